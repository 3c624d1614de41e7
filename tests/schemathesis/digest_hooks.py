"""Schemathesis hooks: authenticate every request with HTTP Digest, as python-requests does,
and keep the fuzzer from locking itself out.

Schemathesis' own auth options cover Basic and tokens only; a `before_call` hook hands each
request a shared `HTTPDigestAuth`, which answers the server's challenge and then reuses the
nonce with a rising count.

The fuzzer authenticates with an API key of the organization it fuzzes, and the stateful phase
follows links from `GET …/apiKeys` to the key operations. Left alone it would delete its own
key, demote it, or put it behind an access list that excludes 127.0.0.1, and every later
request would be refused, testing nothing. Requests aimed at that key are sent to an id that
exists nowhere instead. Likewise a DELETE of one of the fixtures (fixtures.py), which lists
show and links lead to, is sent elsewhere, so they last the whole run.
"""

import os
import re

import requests
import schemathesis
from requests.auth import HTTPDigestAuth

AUTH = HTTPDigestAuth(os.environ["ORGDOOR_PUBLIC_KEY"], os.environ["ORGDOOR_PRIVATE_KEY"])
ELSEWHERE = "000000000000000000000000"
FIXTURES = {
    value
    for name, value in os.environ.items()
    if name.startswith("ORGDOOR_") and name.endswith("_ID") and name != "ORGDOOR_ORG_ID"
}
_own_key_id = None


def own_key_id():
    """The id of the fuzzer's own key, looked up once by its public key."""
    global _own_key_id
    if _own_key_id is None:
        response = requests.get(
            f"{os.environ['ORGDOOR_BASE_URL']}/api/atlas/v2/orgs/{os.environ['ORGDOOR_ORG_ID']}/apiKeys",
            headers={"Accept": "application/vnd.atlas.2023-01-01+json"},
            auth=HTTPDigestAuth(os.environ["ORGDOOR_PUBLIC_KEY"], os.environ["ORGDOOR_PRIVATE_KEY"]),
            params={"itemsPerPage": 500},
            timeout=10,
        )
        response.raise_for_status()
        for key in response.json()["results"]:
            if key["publicKey"] == os.environ["ORGDOOR_PUBLIC_KEY"]:
                _own_key_id = key["id"]
    return _own_key_id


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path.startswith("/api/orgdoor/v1/control"):
        # The control API takes its own Bearer token (given to that run as a header), nothing
        # else.
        return
    kwargs["auth"] = AUTH
    parameters = case.path_parameters or {}
    if parameters.get("apiUserId") == own_key_id():
        parameters["apiUserId"] = ELSEWHERE
    if case.method.upper() == "DELETE":
        # The resource a DELETE removes is named by the path's last parameter.
        names = re.findall(r"{(\w+)}", case.operation.path)
        if names and parameters.get(names[-1]) in FIXTURES:
            parameters[names[-1]] = ELSEWHERE
