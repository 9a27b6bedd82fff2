"""Walks Warden's API with a client generated from openapi.json, as an integrating team would.

scripts/test generates the client with openapi-python-client (tests/client/generator.yaml) and
runs this against the warden-local it started: register → verify (the link from the runner's
mailbox) → login → me → refresh → a GDPR export request and its status → logout → the old
refresh cookie refused. Every call goes through the generated functions and models, and every
answer must parse into the documented type with the documented status: a document the generator
misreads, or an API that answers outside its document, fails here.

The refresh cookie is `Secure`, so an HTTP client keeps it away from plain http://127.0.0.1; the
walk passes it explicitly, as the document's `refreshCookie` scheme names it.

Usage: PYTHONPATH=<generated client dir> walk.py BASE_URL   (WARDEN_OPERATOR_TOKEN_FILE set)
"""

import json
import os
import re
import secrets
import sys
import urllib.request

from warden_client import AuthenticatedClient, Client
from warden_client.api.account import me
from warden_client.api.auth import login, logout, refresh, register, verify_email
from warden_client.api.privacy import gdpr_request, privacy_request
from warden_client.models import (
    AccessToken,
    Accepted,
    Credentials,
    GdprRequest,
    GdprRequestType,
    LoginResponse,
    Me,
    NewAccount,
    PrivacyRequest,
    Problem,
    VerifyEmailBody,
)

COOKIE = "__Secure-warden-refresh"
USER_AGENT = "warden-generated-client-walk/1 (Mozilla/5.0 compatible)"


def expect(step, response, status, kind):
    """The parsed answer of `step`, which must have `status` and parse as `kind`."""
    parsed = response.parsed
    if response.status_code != status or (kind is not None and not isinstance(parsed, kind)):
        body = response.content.decode(errors="replace")[:500]
        sys.exit(f"walk: {step}: expected {status} {kind and kind.__name__}, got {response.status_code}: {body}")
    print(f"walk: {step}: {status}")
    return parsed


def refresh_cookie(response) -> str:
    for header in response.headers.get_list("set-cookie"):
        found = re.match(rf"{COOKIE}=([^;]+)", header)
        if found:
            return found.group(1)
    sys.exit("walk: no refresh cookie was set")


def verification_token(base: str, email: str) -> str:
    """The newest verification link the runner mailed to `email` (its operator mailbox, not part
    of the API the client is generated from)."""
    with open(os.environ["WARDEN_OPERATOR_TOKEN_FILE"], encoding="ascii") as f:
        operator = f.read().strip()
    request = urllib.request.Request(
        f"{base}/_local/mail", headers={"authorization": f"Bearer {operator}", "user-agent": USER_AGENT}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        mail = json.loads(answer.read())
    for message in reversed(mail):
        found = re.search(r"/verify-email#token=(\S+)", message["text"])
        if message["to"] == email and found:
            return found.group(1)
    sys.exit(f"walk: no verification link was mailed to {email}")


def main() -> None:
    base = sys.argv[1].rstrip("/")
    headers = {"User-Agent": USER_AGENT}
    anonymous = Client(base_url=base, headers=headers)
    email = f"walk-{secrets.token_hex(6)}@example.com"
    password = "generated clients walk the whole way"
    credentials = Credentials(email=email, password=password)

    account = NewAccount(email=email, password=password)
    expect("register", register.sync_detailed(client=anonymous, body=account), 202, Accepted)
    refused = login.sync_detailed(client=anonymous, body=credentials)
    expect("login before verifying", refused, 403, Problem)
    token = verification_token(base, email)
    expect("verify", verify_email.sync_detailed(client=anonymous, body=VerifyEmailBody(token=token)), 204, None)

    answer = login.sync_detailed(client=anonymous, body=credentials)
    signed_in = expect("login", answer, 200, LoginResponse)
    cookie = refresh_cookie(answer)

    user = AuthenticatedClient(base_url=base, token=signed_in.access_token, headers=headers)
    profile = expect("me", me.sync_detailed(client=user), 200, Me)
    if profile.email != email:
        sys.exit(f"walk: me names {profile.email}, not {email}")

    with_cookie = AuthenticatedClient(
        base_url=base, token=signed_in.access_token, headers=headers, cookies={COOKIE: cookie}
    )
    answer = refresh.sync_detailed(client=with_cookie)
    renewed = expect("refresh", answer, 200, AccessToken)
    rotated = refresh_cookie(answer)

    user = AuthenticatedClient(base_url=base, token=renewed.access_token, headers=headers)
    request = expect(
        "privacy export", gdpr_request.sync_detailed(client=user, body=GdprRequest(type_=GdprRequestType.EXPORT)),
        202, PrivacyRequest,
    )
    status = expect("privacy export status", privacy_request.sync_detailed(request.request_id, client=user), 200, PrivacyRequest)
    print(f"walk: export {status.request_id} is {status.status}")

    signed_out = AuthenticatedClient(
        base_url=base, token=renewed.access_token, headers=headers, cookies={COOKIE: rotated}
    )
    expect("logout", logout.sync_detailed(client=signed_out), 204, None)
    expect("refresh after logout", refresh.sync_detailed(client=signed_out), 401, Problem)
    print("walk: the generated client walked the API")


if __name__ == "__main__":
    main()
