"""A python-requests session as resilient Atlas scripts set one up: HTTPDigestAuth, and urllib3
retrying 429s after the server's Retry-After.

Reads ORGDOOR_URL, ORG_ID, PUBLIC_KEY and PRIVATE_KEY from the environment, lists the
organization's invitations once and prints one JSON object: the final status, the statuses
urllib3 retried, and how long the call took.
"""

import json
import os
import sys
import time

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPDigestAuth
from urllib3.util.retry import Retry

ACCEPT = "application/vnd.atlas.2023-01-01+json"


def main() -> int:
    base = os.environ["ORGDOOR_URL"]
    org = os.environ["ORG_ID"]
    session = requests.Session()
    session.auth = HTTPDigestAuth(os.environ["PUBLIC_KEY"], os.environ["PRIVATE_KEY"])
    session.headers.update({"Accept": ACCEPT})
    retry = Retry(total=3, status_forcelist=[429], respect_retry_after_header=True,
                  backoff_factor=0, allowed_methods=None, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    started = time.monotonic()
    response = session.get(f"{base}/api/atlas/v2/orgs/{org}/invites")
    waited = time.monotonic() - started
    retried = []
    for attempt in response.history + [response]:
        history = getattr(attempt.raw, "retries", None)
        if history is not None:
            retried.extend(entry.status for entry in history.history)
    print(json.dumps({"status": response.status_code, "retried": retried, "waitedSeconds": waited}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
