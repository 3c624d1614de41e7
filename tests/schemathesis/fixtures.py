"""Creates the resources Schemathesis fuzzes against and prints their ids as shell exports.

Random ids only reach "not found"; these give the operations on one resource something real to
read and change: a team with a member, a project with a pending invitation and that team, a pending
organization invitation, a second API key and a service account. Operations that delete a
resource keep random ids (see schemathesis.toml), so the fixtures last the whole run.
Reads ORGDOOR_BASE_URL, ORGDOOR_ORG_ID, ORGDOOR_PUBLIC_KEY and ORGDOOR_PRIVATE_KEY.
"""

import os

import requests
from requests.auth import HTTPDigestAuth

BASE = os.environ["ORGDOOR_BASE_URL"]
ORG = os.environ["ORGDOOR_ORG_ID"]
SESSION = requests.Session()
SESSION.auth = HTTPDigestAuth(os.environ["ORGDOOR_PUBLIC_KEY"], os.environ["ORGDOOR_PRIVATE_KEY"])


def call(method, path, body, version="2023-01-01"):
    response = SESSION.request(
        method,
        f"{BASE}{path}",
        json=body,
        headers={"Accept": f"application/vnd.atlas.{version}+json"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def main():
    team = call("POST", f"/api/atlas/v2/orgs/{ORG}/teams", {"name": "fuzz-team", "usernames": []})["id"]
    group = call("POST", "/api/atlas/v2/groups", {"name": "fuzz-project", "orgId": ORG})["id"]
    user = call(
        "POST",
        f"/api/atlas/v2/orgs/{ORG}/users",
        {"username": "fuzz-member@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}, "teamIds": [team]},
        version="2025-02-19",
    )["id"]
    call("POST", f"/api/orgdoor/v1/orgs/{ORG}/invitations/{user}:accept", None)
    group_user = {"username": "fuzz-member@example.com", "roles": ["GROUP_READ_ONLY"]}
    call("POST", f"/api/atlas/v2/groups/{group}/users", group_user, version="2025-02-19")
    invitation = call(
        "POST", f"/api/atlas/v2/orgs/{ORG}/invites", {"username": "fuzz-invitee@example.com", "roles": ["ORG_MEMBER"]}
    )["id"]
    group_invitation = call(
        "POST", f"/api/atlas/v2/groups/{group}/invites", {"username": "fuzz-guest@example.com", "roles": ["GROUP_READ_ONLY"]}
    )["id"]
    api_key = call("POST", f"/api/atlas/v2/orgs/{ORG}/apiKeys", {"desc": "fuzz target", "roles": ["ORG_MEMBER"]})["id"]
    call("POST", f"/api/atlas/v2/groups/{group}/teams", [{"teamId": team, "roleNames": ["GROUP_READ_ONLY"]}])
    client_id = call(
        "POST",
        f"/api/atlas/v2/orgs/{ORG}/serviceAccounts",
        {"name": "fuzz-target", "description": "fuzz target", "roles": ["ORG_MEMBER"], "secretExpiresAfterHours": 8},
        version="2024-08-05",
    )["clientId"]
    for name, value in [
        ("ORGDOOR_TEAM_ID", team),
        ("ORGDOOR_GROUP_ID", group),
        ("ORGDOOR_USER_ID", user),
        ("ORGDOOR_INVITATION_ID", invitation),
        ("ORGDOOR_GROUP_INVITATION_ID", group_invitation),
        ("ORGDOOR_API_KEY_ID", api_key),
        ("ORGDOOR_CLIENT_ID", client_id),
    ]:
        print(f"export {name}={value}")


if __name__ == "__main__":
    main()
