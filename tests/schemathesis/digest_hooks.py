"""Schemathesis hooks: authenticate every request with HTTP Digest, as python-requests does.

Schemathesis' own auth options cover Basic and tokens only; a `before_call` hook hands each
request a shared `HTTPDigestAuth`, which answers the server's challenge and then reuses the
nonce with a rising count.
"""

import os

import schemathesis
from requests.auth import HTTPDigestAuth

AUTH = HTTPDigestAuth(os.environ["ORGDOOR_PUBLIC_KEY"], os.environ["ORGDOOR_PRIVATE_KEY"])


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = AUTH
