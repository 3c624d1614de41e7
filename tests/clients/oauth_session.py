"""Obtains a service-account token from orgdoor as an OAuth 2.0 client-credentials client (with
python-requests), uses it, revokes it and tries again.

Reads ORGDOOR_URL, ORG_ID, CLIENT_ID and CLIENT_SECRET; prints one JSON object per step.
"""

import json
import os
import sys

import requests

ACCEPT = "application/vnd.atlas.2023-01-01+json"


def main() -> int:
    base = os.environ["ORGDOOR_URL"]
    org = os.environ["ORG_ID"]
    client = (os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])
    invites = f"{base}/api/atlas/v2/orgs/{org}/invites"

    def report(step, response):
        body = response.json() if response.content else None
        print(json.dumps({"step": step, "status": response.status_code, "body": body,
                          "cache_control": response.headers.get("Cache-Control")}))
        return body

    granted = report("token", requests.post(f"{base}/api/oauth/token",
                                            data={"grant_type": "client_credentials"}, auth=client,
                                            headers={"Accept": "application/json"}))
    bearer = {"Authorization": f"Bearer {granted['access_token']}", "Accept": ACCEPT}
    report("list", requests.get(invites, headers=bearer))
    report("invite", requests.post(invites, headers={**bearer, "Content-Type": ACCEPT},
                                   json={"username": "robot-invitee@example.com", "roles": ["ORG_MEMBER"]}))
    report("revoke", requests.post(f"{base}/api/oauth/revoke", auth=client,
                                   data={"token": granted["access_token"], "token_type_hint": "access_token"}))
    report("after_revoke", requests.get(invites, headers=bearer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
