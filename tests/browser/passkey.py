"""A real browser registers a passkey and signs in with it: headless Chromium, driven over the
DevTools protocol, with a virtual authenticator (`WebAuthn.addVirtualAuthenticator`: CTAP2,
internal transport, resident keys, user verification) on `warden-local`'s `/demo/` page.

The page signs in with the password, asks for a registration ceremony, lets the browser's
authenticator create the credential (`navigator.credentials.create`, options parsed with
`PublicKeyCredential.parseCreationOptionsFromJSON`, the answer sent as `toJSON()`), logs out,
then signs in with the passkey alone (`navigator.credentials.get`, a discoverable credential:
no name asked) and calls `/me`. The account is registered and verified over HTTP first (its
link read from the runner's mailbox with the operator token).

Usage: passkey.py BASE_URL OPERATOR_TOKEN_FILE  (BASE_URL like http://localhost:PORT: WebAuthn
needs a secure context, and http://localhost is one). Exit 0 when the page's log is as expected.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

import websockets

PASSWORD = "marmalade kiln wobbles at dusk"
EXPECTED = [
    "login 200",
    "passkey options 200",
    "passkey register 201",
    "logout 204",
    "passkey sign-in options 200",
    "passkey login 200",
    "me 200",
    "done",
]


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, (json.loads(raw) if raw.strip() else {})


def verified_account(base: str, operator_file: str) -> str:
    email = f"browser-{uuid.uuid4().hex}@example.com"
    status, payload = post(f"{base}/auth/register", {"email": email, "password": PASSWORD})
    assert status == 202, (status, payload)
    with open(operator_file, encoding="ascii") as f:
        operator = f.read().strip()
    request = urllib.request.Request(f"{base}/_local/mail", headers={"authorization": f"Bearer {operator}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        mail = json.loads(response.read())
    token = next(
        found.group(1)
        for message in reversed(mail)
        if message["to"] == email and (found := re.search(r"/verify-email#token=(\S+)", message["text"]))
    )
    status, payload = post(f"{base}/auth/email/verify", {"token": token})
    assert status == 204, (status, payload)
    return email


class DevTools:
    """One DevTools websocket: commands by id, on the browser or on a page's session."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})


async def run(base: str, email: str) -> list[str]:
    chromium = os.environ.get("WARDEN_CHROMIUM", "/usr/bin/chromium")
    profile = tempfile.mkdtemp(prefix="warden-passkey-")
    browser = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        for line in browser.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint = found.group(1)
                break
        if endpoint is None:
            raise RuntimeError("Chromium did not open its DevTools endpoint")
        async with websockets.connect(endpoint, max_size=None) as ws:
            devtools = DevTools(ws)
            target = (await devtools.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
            session = (await devtools.send("Target.attachToTarget", {"targetId": target, "flatten": True}))[
                "sessionId"
            ]
            await devtools.send("WebAuthn.enable", {"enableUI": False}, session)
            await devtools.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "ctap2Version": "ctap2_1",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                        "automaticPresenceSimulation": True,
                    }
                },
                session,
            )
            steps = "signin,passkey_register,logout,passkey_signin,me"
            url = f"{base}/demo/#run={steps}&email={email}&password={PASSWORD}"
            await devtools.send("Page.navigate", {"url": url}, session)
            log = ""
            for _ in range(300):
                await asyncio.sleep(0.1)
                result = await devtools.send(
                    "Runtime.evaluate",
                    {"expression": "(document.getElementById('log') || {}).textContent || ''"},
                    session,
                )
                log = result.get("result", {}).get("value", "")
                if log.rstrip().endswith("done"):
                    break
            return log.strip().splitlines()
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    base, operator_file = sys.argv[1].rstrip("/"), sys.argv[2]
    email = verified_account(base, operator_file)
    lines = asyncio.run(run(base, email))
    for line in lines:
        print(f"browser: {line}")
    if lines != EXPECTED:
        print(f"browser: expected {EXPECTED}")
        return 1
    print("browser: a passkey was registered and signed in with, in a real browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
