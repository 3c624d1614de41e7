"""Checks that each HTML document given on standard input (separated by NUL bytes) parses
without a single HTML5 parse error (html5lib in strict mode), has a <!DOCTYPE html>, a lang,
a charset and a title, and holds no <script>. Prints "ok" or the first problem and exits 1.
"""

import sys

import html5lib


def check(document):
    if not document.lstrip().lower().startswith("<!doctype html>"):
        return "no <!DOCTYPE html>"
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(document)
    if not tree.get("lang"):
        return "no lang on <html>"
    if tree.find("head/meta[@charset]") is None:
        return "no <meta charset>"
    title = tree.find("head/title")
    if title is None or not (title.text or "").strip():
        return "no <title>"
    if tree.find(".//script") is not None:
        return "a <script> element"
    return None


def main():
    for index, document in enumerate(sys.stdin.read().split("\0")):
        if not document.strip():
            continue
        try:
            problem = check(document)
        except html5lib.html5parser.ParseError as error:
            problem = f"parse error: {error}"
        if problem:
            print(f"document {index}: {problem}")
            sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
