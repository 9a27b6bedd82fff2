"""Schemathesis hooks for scripts/test: real credentials for every authenticated operation.

One account and one bearer token made before the run are not enough, because the run's own
requests end them: a fuzzed `POST /privacy/gdpr {"type": "delete"}` erases the account,
`POST /auth/password` ends every earlier token, `DELETE /me/sessions/{id}` ends a session, wrong
passwords lock the account. From then on every authenticated operation answers 401 and the run
tests nothing but the guard. So credentials come from here, and an account is dropped the moment
it may be dead:

- Bearer operations share one account (stateful links such as `POST /privacy/gdpr` ->
  `GET /privacy/requests/{id}` or `GET /me/sessions` -> `DELETE /me/sessions/{id}` need one
  account on both steps). It is replaced by a newly registered one after any response that may
  have ended it (a 2xx from an operation that ends accounts or tokens, or a 401 to its own token),
  and before its sign-in is older than privacy's 5-minute "fresh sign-in" window.
- Cookie operations (`/auth/refresh`, `/auth/logout`) get the refresh cookie of a login of their
  own: refresh rotates the cookie and a replayed one revokes its family, logout ends the session,
  so no cookie is ever sent twice.

Schemathesis applies auth when it generates a case, and runs a batch of generated cases later, so
`@schemathesis.auth` alone would send tokens that died in between. The `before_call` hook swaps,
at send time, a token of a dropped account for the current one and a cookie already sent for a
new one. Which credential an operation needs is read from its `security` in openapi.json.

Logins send schemathesis's own User-Agent: a session is bound to a fingerprint of the client's
headers, and a refresh from a client with another fingerprint ends it (401).

Registration answers 202 and mails a verification link: the hook reads it from the runner's
mailbox (`GET /_local/mail`, with the operator token of the file WARDEN_OPERATOR_TOKEN_FILE
names) and follows it before signing in.

Second factors: every other positive case of the second step (`POST /auth/mfa/totp`,
`/auth/mfa/recovery`) gets a live challenge and a valid code of an account enrolled here (codes
computed from RFC 6238 below), every other `POST /me/mfa/totp/confirm` the current code of an
enrolment begun for it, and `DELETE /me/mfa/totp` a token of a sign-in that used the factor —
without them these operations answer only 400/401/403 and their success is never checked.

Passkeys: every other positive case of `POST /me/passkeys` answers a live registration ceremony
of its account, of `POST /auth/passkeys/login` a live sign-in ceremony of an account with a
passkey, and `DELETE /me/passkeys/{id}` names that account's passkey with a token of a sign-in
with it — by the software authenticator below (P-256, attestation `none`, through the
`cryptography` package moto already brings), from the origin the runner is configured with.

Loaded through SCHEMATHESIS_HOOKS=<path of this file> (schemathesis 4.32.5 executes a path as a
file; a dotted name would be imported from the end of sys.path, behind any installed `tests`
package). Only ever talks to the run's own base URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import re
import threading
import time
import urllib.error
import urllib.request
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import USER_AGENT

PASSWORD = "marmalade kiln wobbles at dusk"
REFRESH_COOKIE = "__Secure-warden-refresh"
# Privacy requests without a password need a sign-in within 5 minutes; access tokens live 15.
MAX_ACCOUNT_AGE = 240.0


def _post(url: str, body: dict | None, bearer: str | None = None, method: str = "POST") -> tuple[int, dict, list[str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **({"authorization": f"Bearer {bearer}"} if bearer else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    payload = json.loads(raw) if raw.strip() else {}
    return status, payload, headers.get_all("Set-Cookie") or []


class Account:
    # A plain class: a hooks file schemathesis loads by path is not in sys.modules, which @dataclass needs.
    def __init__(self, email: str, token: str, refresh_cookie: str, signed_in: float) -> None:
        self.email = email
        self.token = token
        self.refresh_cookie = refresh_cookie
        self.signed_in = signed_in
        self.dead = False

    def usable(self) -> bool:
        return not self.dead and time.monotonic() - self.signed_in < MAX_ACCOUNT_AGE


def _verification_token(base_url: str, email: str) -> str:
    """The token of the newest verification link the runner mailed to `email`."""
    return _mailed_token(base_url, email, "verify-email")


def _mailed_token(base_url: str, email: str, page: str) -> str:
    """The token of the newest `/{page}#token=` link the runner mailed to `email`."""
    with open(os.environ["WARDEN_OPERATOR_TOKEN_FILE"], encoding="ascii") as f:
        operator = f.read().strip()
    request = urllib.request.Request(
        f"{base_url}/_local/mail", headers={"authorization": f"Bearer {operator}", "user-agent": USER_AGENT}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        mail = json.loads(response.read())
    for message in reversed(mail):
        found = re.search(rf"/{page}#token=(\S+)", message["text"])
        if message["to"] == email and found:
            return found.group(1)
    raise RuntimeError(f"no {page} link was mailed to {email}")


def new_account(base_url: str) -> Account:
    """Register a never-used email, verify it and sign in; fail loudly, since every later request
    depends on it."""
    creds = {"email": f"fuzz-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
    status, payload, _ = _post(f"{base_url}/auth/register", creds)
    if status != 202:
        raise RuntimeError(f"POST /auth/register answered {status}: {payload}")
    token = _verification_token(base_url, creds["email"])
    status, payload, _ = _post(f"{base_url}/auth/email/verify", {"token": token})
    if status != 204:
        raise RuntimeError(f"POST /auth/email/verify answered {status}: {payload}")
    signed_in = time.monotonic()
    status, payload, cookies = _post(f"{base_url}/auth/login", creds)
    if status != 200 or "access_token" not in payload:
        raise RuntimeError(f"POST /auth/login answered {status}: {payload}")
    refresh = next(
        (c.split(";", 1)[0].split("=", 1)[1] for c in cookies if c.startswith(f"{REFRESH_COOKIE}=")), None
    )
    if not refresh:
        raise RuntimeError(f"POST /auth/login set no {REFRESH_COOKIE} cookie: {cookies}")
    return Account(email=creds["email"], token=payload["access_token"], refresh_cookie=refresh, signed_in=signed_in)


def _totp(secret: str, at: float) -> str:
    """RFC 6238 (HMAC-SHA-1, six digits, 30 s) of a base32 secret at `at`."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def _begin_totp(base_url: str, bearer: str) -> str:
    status, payload, _ = _post(f"{base_url}/me/mfa/totp", None, bearer)
    if status != 200:
        raise RuntimeError(f"POST /me/mfa/totp answered {status}: {payload}")
    return payload["secret"]


def _enrolled_account(base_url: str) -> tuple[Account, str, list[str]]:
    """A new account with an authenticator app confirmed: (account, secret, recovery codes)."""
    account = new_account(base_url)
    secret = _begin_totp(base_url, account.token)
    status, payload, _ = _post(f"{base_url}/me/mfa/totp/confirm", {"code": _totp(secret, time.time())}, account.token)
    if status != 200:
        raise RuntimeError(f"POST /me/mfa/totp/confirm answered {status}: {payload}")
    return account, secret, payload["recovery_codes"]


def _challenge(base_url: str, account: Account) -> str:
    status, payload, _ = _post(f"{base_url}/auth/login", {"email": account.email, "password": PASSWORD})
    if status != 200 or "mfa_token" not in payload:
        raise RuntimeError(f"POST /auth/login answered {status}: {payload}")
    return payload["mfa_token"]


def _second_factor(case) -> None:
    """Live second-factor material for every other positive case of the operations that need it."""
    key = (case.method.upper(), case.path)
    if key not in {
        ("POST", "/auth/mfa/totp"),
        ("POST", "/auth/mfa/recovery"),
        ("POST", "/me/mfa/totp/confirm"),
        ("DELETE", "/me/mfa/totp"),
    }:
        return
    if key != ("DELETE", "/me/mfa/totp") and not isinstance(case.body, dict):
        return
    if not _every_other(case):
        return
    base = _base_url(case.operation)
    if key == ("POST", "/me/mfa/totp/confirm"):
        token = _bearer(case)
        status, payload, _ = _post(f"{base}/me/mfa/totp", None, token) if token else (0, {}, [])
        if status == 200:  # not when the shared account was enrolled meanwhile (409)
            case.body = {**case.body, "code": _totp(payload["secret"], time.time())}
        return
    account, secret, codes = _enrolled_account(base)
    if key == ("POST", "/auth/mfa/totp"):
        # The confirmation spent this step's code: the next step's is within the drift allowed.
        case.body = {**case.body, "mfa_token": _challenge(base, account), "code": _totp(secret, time.time() + 30)}
    elif key == ("POST", "/auth/mfa/recovery"):
        case.body = {**case.body, "mfa_token": _challenge(base, account), "code": codes[0]}
    else:
        status, payload, _ = _post(
            f"{base}/auth/mfa/recovery", {"mfa_token": _challenge(base, account), "code": codes[1]}
        )
        if status != 200:
            raise RuntimeError(f"POST /auth/mfa/recovery answered {status}: {payload}")
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {payload['access_token']}"


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _cbor(v) -> bytes:
    """The CBOR the authenticator writes: integers, byte and text strings, maps."""
    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        if n < 0x100:
            return bytes([major << 5 | 24, n])
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        return head(3, len(v.encode())) + v.encode()
    return head(5, len(v)) + b"".join(_cbor(k) + _cbor(x) for k, x in v.items())


def _origin(base_url: str) -> str:
    """The passkey origin the runner accepts: its own, named by host name."""
    return base_url.replace("127.0.0.1", "localhost")


class _Passkey:
    """A software authenticator's credential (P-256, user present and verified)."""

    def __init__(self, options: dict, origin: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.id = os.urandom(16)
        self.rp_id = options["rp"]["id"]
        self.user = _unb64(options["user"]["id"])
        self.counter = 1
        numbers = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        auth = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([0x45])
            + (0).to_bytes(4, "big")
            + bytes(16)
            + len(self.id).to_bytes(2, "big")
            + self.id
            + _cbor(cose)
        )
        client = json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin, "crossOrigin": False}
        ).encode()
        self.registration = {
            "id": _b64(self.id),
            "rawId": _b64(self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client),
                "attestationObject": _b64(_cbor({"fmt": "none", "attStmt": {}, "authData": auth})),
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, origin: str) -> dict:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        auth = hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x05]) + self.counter.to_bytes(4, "big")
        self.counter += 1
        client = json.dumps(
            {"type": "webauthn.get", "challenge": options["challenge"], "origin": origin, "crossOrigin": False}
        ).encode()
        signature = self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": _b64(self.id),
            "rawId": _b64(self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client),
                "authenticatorData": _b64(auth),
                "signature": _b64(signature),
                "userHandle": _b64(self.user),
            },
            "clientExtensionResults": {},
        }


def _passkey_answer(base_url: str, bearer: str) -> tuple[_Passkey, dict] | None:
    """A registration ceremony of `bearer`'s account answered: (credential, request body)."""
    status, options, _ = _post(f"{base_url}/me/passkeys/options", None, bearer)
    if status != 200:
        return None
    passkey = _Passkey(options["publicKey"], _origin(base_url))
    return passkey, {"challenge_id": options["challenge_id"], "credential": passkey.registration, "name": "fuzz key"}


def _passkey_sign_in_body(base_url: str, passkey: _Passkey) -> dict:
    status, options, _ = _post(f"{base_url}/auth/passkeys/options", {})
    if status != 200:
        raise RuntimeError(f"POST /auth/passkeys/options answered {status}: {options}")
    return {"challenge_id": options["challenge_id"], "credential": passkey.get(options["publicKey"], _origin(base_url))}


def _passkey_account(base_url: str) -> tuple[Account, _Passkey]:
    account = new_account(base_url)
    answered = _passkey_answer(base_url, account.token)
    if answered is None:
        raise RuntimeError("POST /me/passkeys/options refused a fresh account")
    passkey, body = answered
    status, payload, _ = _post(f"{base_url}/me/passkeys", body, account.token)
    if status != 201:
        raise RuntimeError(f"POST /me/passkeys answered {status}: {payload}")
    return account, passkey


def _passkeys(case) -> None:
    """Live passkey ceremonies for every other positive case of the operations that need them."""
    key = (case.method.upper(), case.path)
    if key not in {
        ("POST", "/me/passkeys"),
        ("POST", "/auth/passkeys/login"),
        ("DELETE", "/me/passkeys/{id}"),
    }:
        return
    if key != ("DELETE", "/me/passkeys/{id}") and not isinstance(case.body, dict):
        return
    if not _every_other(case):
        return
    base = _base_url(case.operation)
    if key == ("POST", "/me/passkeys"):
        token = _bearer(case)
        answered = _passkey_answer(base, token) if token else None
        if answered is not None:
            case.body = answered[1]
        return
    account, passkey = _passkey_account(base)
    if key == ("POST", "/auth/passkeys/login"):
        case.body = _passkey_sign_in_body(base, passkey)
        return
    status, payload, _ = _post(f"{base}/auth/passkeys/login", _passkey_sign_in_body(base, passkey))
    if status != 200:
        raise RuntimeError(f"POST /auth/passkeys/login answered {status}: {payload}")
    case.headers = dict(case.headers or {})
    case.headers["Authorization"] = f"Bearer {payload['access_token']}"
    case.path_parameters = {**(case.path_parameters or {}), "id": _b64(passkey.id)}


def _scheme(operation) -> str | None:
    """The credential openapi.json asks of this operation: "bearer", "refreshCookie" or None."""
    security = operation.definition.raw.get("security", operation.schema.raw_schema.get("security", []))
    names = {name for requirement in security for name in requirement}
    return "bearer" if "bearer" in names else "refreshCookie" if "refreshCookie" in names else None


def _base_url(operation) -> str:
    return operation.schema.get_base_url().rstrip("/")


def _ends_account(method: str, path: str, body: object, status: int) -> bool:
    """Whether a 2xx from this request may have ended the account or the token it was sent with."""
    if not 200 <= status < 300:
        return False
    if (method, path) in {("POST", "/auth/password"), ("DELETE", "/me/sessions/{id}")}:
        return True
    if (method, path) == ("POST", "/me/mfa/totp/confirm"):
        return True  # the account now has a second factor: its logins would need the second step
    if (method, path) in {("POST", "/privacy/gdpr"), ("POST", "/privacy/ccpa")}:
        return not (isinstance(body, dict) and body.get("type") in ("export", "access", "do_not_sell"))
    return False


_lock = threading.Lock()
_shared: Account | None = None
_by_token: dict[str, Account] = {}
_issued_cookies: set[str] = set()
_sent_cookies: set[str] = set()


def _shared_account(base_url: str) -> Account:
    global _shared
    with _lock:
        if _shared is None or not _shared.usable():
            _shared = new_account(base_url)
            _by_token[_shared.token] = _shared
        return _shared


def _cookie_account(base_url: str) -> Account:
    account = new_account(base_url)
    with _lock:
        _issued_cookies.add(account.refresh_cookie)
    return account


def _bearer(case) -> str | None:
    value = (case.headers or {}).get("Authorization")
    return value[len("Bearer ") :] if isinstance(value, str) and value.startswith("Bearer ") else None


# refresh_interval=None: no caching by schemathesis; `get` runs for every case and decides itself.
@schemathesis.auth(refresh_interval=None)
class WardenAuth:
    def get(self, case, context):
        scheme = _scheme(context.operation)
        if scheme == "refreshCookie":
            return _cookie_account(_base_url(context.operation))
        if scheme == "bearer":
            return _shared_account(_base_url(context.operation))
        return None  # a public route: its requests stay as generated

    def set(self, case, data, context):
        if _scheme(context.operation) == "refreshCookie":
            case.cookies = dict(case.cookies or {})
            case.cookies[REFRESH_COOKIE] = data.refresh_cookie
            return
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {data.token}"
        # The current password is a credential too: without it every positive case of the
        # password change and the email change is refused (401) and its success never checked
        # against the schema (and a run where the email change answered only 401 fails).
        field = PASSWORD_FIELDS.get((case.method.upper(), case.path))
        if (
            field is not None
            and isinstance(case.body, dict)
            and field in case.body
            and not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY))
        ):
            case.body = {**case.body, field: PASSWORD}


# Operations whose body carries the account's current password, and the field it is in.
PASSWORD_FIELDS = {
    ("POST", "/auth/password"): "current_password",
    ("POST", "/me/email"): "password",
    ("POST", "/auth/reauthenticate"): "password",
}

_logins = 0


def _real_login(case) -> None:
    """Every other positive `POST /auth/login` signs in a verified account: generated addresses
    are never registered and confirmed, so without this every login answers 401 and its 200 is
    never checked against the schema."""
    global _logins
    if (case.method.upper(), case.path) != ("POST", "/auth/login") or not isinstance(case.body, dict):
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return
    with _lock:
        _logins += 1
        turn = _logins
    if turn % 2 == 0:
        account = _shared_account(_base_url(case.operation))
        case.body = {**case.body, "email": account.email, "password": PASSWORD}


_turns: dict[tuple[str, str], int] = {}


def _every_other(case) -> bool:
    """True on every second positive case of its operation."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return False
    key = (case.method.upper(), case.path)
    with _lock:
        _turns[key] = _turns.get(key, 0) + 1
        return _turns[key] % 2 == 0


def _strong_password() -> str:
    return f"{PASSWORD} {uuid.uuid4().hex[:8]}"


def _live_links(case) -> None:
    """Every other positive verification and reset carries a live link's token, and every other
    positive password change a password the policy accepts: no generated token is ever live and
    the policy's strength rule is not a schema, so without this these operations would answer
    nothing but 400 and their success would never be checked against the schema."""
    key = (case.method.upper(), case.path)
    if not isinstance(case.body, dict) or key not in {
        ("POST", "/auth/email/verify"),
        ("POST", "/auth/password/reset"),
        ("POST", "/auth/password"),
        ("POST", "/privacy/requests/verify"),
    }:
        return
    if not _every_other(case):
        return
    base = _base_url(case.operation)
    if key == ("POST", "/auth/email/verify"):
        email = f"fuzz-{uuid.uuid4().hex}@example.com"
        status, payload, _ = _post(f"{base}/auth/register", {"email": email, "password": PASSWORD})
        if status != 202:
            raise RuntimeError(f"POST /auth/register answered {status}: {payload}")
        case.body = {**case.body, "token": _verification_token(base, email)}
    elif key == ("POST", "/privacy/requests/verify"):
        # A request by mail from an address without an account: answered "no data held"; or,
        # half the time, made by an authorized agent, whose answer is its receipt and upload link.
        email = f"fuzz-{uuid.uuid4().hex}@example.com"
        body = {"email": email, "regime": "gdpr", "type": "export"}
        mailbox = email
        if uuid.uuid4().int % 2:
            mailbox = f"fuzz-agent-{uuid.uuid4().hex}@example.com"
            permission = {"content_type": "application/pdf", "bytes": 100}
            body["agent"] = {"name": "Fuzz Agents", "email": mailbox, "permission": permission}
        status, payload, _ = _post(f"{base}/privacy/requests", body)
        if status != 202:
            raise RuntimeError(f"POST /privacy/requests answered {status}: {payload}")
        case.body = {**case.body, "token": _mailed_token(base, mailbox, "privacy/verify")}
    elif key == ("POST", "/auth/password/reset"):
        account = new_account(base)
        status, payload, _ = _post(f"{base}/auth/password/forgot", {"email": account.email})
        if status != 202:
            raise RuntimeError(f"POST /auth/password/forgot answered {status}: {payload}")
        token = _mailed_token(base, account.email, "reset-password")
        case.body = {**case.body, "token": token, "new_password": _strong_password()}
    else:
        case.body = {**case.body, "new_password": _strong_password()}


@schemathesis.hook
def before_call(context, case, kwargs):
    """Swap credentials that went stale between generation and sending (only ones issued here);
    give some logins real credentials, some link and second-factor operations live material."""
    _real_login(case)
    _live_links(case)
    token = _bearer(case)
    account = _by_token.get(token) if token else None
    if account is not None and not account.usable():
        case.headers["Authorization"] = f"Bearer {_shared_account(_base_url(case.operation)).token}"
    _second_factor(case)
    _passkeys(case)
    cookie = (case.cookies or {}).get(REFRESH_COOKIE)
    with _lock:
        reused = cookie in _issued_cookies and cookie in _sent_cookies
    if reused:
        cookie = _cookie_account(_base_url(case.operation)).refresh_cookie
        case.cookies[REFRESH_COOKIE] = cookie
    if cookie in _issued_cookies:
        with _lock:
            _sent_cookies.add(cookie)


@schemathesis.hook
def after_call(context, case, response):
    """Drop the account a response says may be gone, so the next request gets a live one."""
    token = _bearer(case)
    account = _by_token.get(token) if token else None
    if account is None or account.dead:
        return
    if response.status_code == 401 or _ends_account(case.method.upper(), case.path, case.body, response.status_code):
        account.dead = True
