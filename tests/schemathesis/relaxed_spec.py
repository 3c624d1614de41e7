"""Writes the Atlas v2 spec with exactly the relaxations listed in docs/compatibility.md.

Atlas sends `ApiError.parameters` as strings and numbers (observed), where the spec's Java origin
declares `items: {type: object}`; and it fills `inviterUsername` with the inviting key's public
key, where the spec says `format: email`. Sixteen operations document no 400 although they take
a body or query values that can be malformed; they get the spec's own `badRequest` response, so
refusing bad input stays allowed while every other undocumented status is still caught.
Everything else is checked as published. With a SUPPLEMENT, its paths that SOURCE lacks are
added, with the components they need that SOURCE lacks (a component both define is SOURCE's).
Usage: relaxed_spec.py SOURCE DESTINATION [SUPPLEMENT]
"""

import sys

import yaml


def relax(node):
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get("inviterUsername"), dict):
            properties["inviterUsername"].pop("format", None)
        for value in node.values():
            relax(value)
    elif isinstance(node, list):
        for value in node:
            relax(value)


def merge(spec, supplement):
    for path, item in supplement["paths"].items():
        spec["paths"].setdefault(path, item)
    for kind, components in supplement.get("components", {}).items():
        target = spec.setdefault("components", {}).setdefault(kind, {})
        for name, component in components.items():
            target.setdefault(name, component)


def main(source, destination, supplement=None):
    with open(source, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    if supplement:
        with open(supplement, encoding="utf-8") as handle:
            merge(spec, yaml.safe_load(handle))
    spec["components"]["schemas"]["ApiError"]["properties"]["parameters"]["items"] = {}
    relax(spec)
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(
                    "400", {"$ref": "#/components/responses/badRequest"}
                )
    with open(destination, "w", encoding="utf-8") as handle:
        yaml.safe_dump(spec, handle, sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
