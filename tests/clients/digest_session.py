"""Drives orgdoor with python-requests' HTTPDigestAuth on one session, as Atlas scripts do.

Reads ORGDOOR_URL, ORG_ID, PUBLIC_KEY and PRIVATE_KEY from the environment and prints one JSON
object per request: its status, whether requests had to answer a challenge first (a 401 in the
history), and the body.
"""

import json
import os
import sys

import requests
from requests.auth import HTTPDigestAuth

ACCEPT = "application/vnd.atlas.2023-01-01+json"


def main() -> int:
    base = os.environ["ORGDOOR_URL"]
    org = os.environ["ORG_ID"]
    session = requests.Session()
    session.auth = HTTPDigestAuth(os.environ["PUBLIC_KEY"], os.environ["PRIVATE_KEY"])
    session.headers.update({"Accept": ACCEPT})
    invites = f"{base}/api/atlas/v2/orgs/{org}/invites"

    def record(response):
        body = response.json() if response.content else None
        print(json.dumps({
            "status": response.status_code,
            "challenged": any(r.status_code == 401 for r in response.history),
            "body": body,
        }))
        return body

    record(session.get(invites))
    created = record(session.post(invites, json={"username": "py@example.com", "roles": ["ORG_MEMBER"]},
                                  headers={"Content-Type": ACCEPT}))
    record(session.get(f"{invites}/{created['id']}"))
    record(session.patch(f"{invites}/{created['id']}", json={"roles": ["ORG_OWNER"]},
                         headers={"Content-Type": ACCEPT}))
    record(session.get(invites, params={"username": "py@example.com"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
