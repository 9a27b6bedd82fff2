"""Peak memory of warden-local under a burst of concurrent logins, side by side.

Usage: login_burst.py BINARY [--logins N] [--concurrency C ...]

For each C (WARDEN_ARGON2_CONCURRENCY; "unbounded" means one hash per request, as before the
bound) it starts BINARY on a fresh data directory with the production Argon2 cost (19 MiB, t=2),
registers N accounts, fires N logins at once (one thread each, each for its own account, from
loopback: a burst on one account would mostly meet its lockout reservation), and prints one
JSON line: the statuses, the wall time, and the process's peak and final resident memory
(VmHWM, VmRSS from /proc). Only loopback is used; the servers are stopped at the end.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PASSWORD = "marmalade kiln wobbles at dusk"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(base, path, body):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def verify_all(base, data, emails):
    """Follows the verification link the runner mailed to each of `emails` (read from its
    mailbox with the operator token of its data directory)."""
    with open(os.path.join(data, "operator-token"), encoding="ascii") as f:
        operator = f.read().strip()
    request = urllib.request.Request(base + "/_local/mail", headers={"authorization": f"Bearer {operator}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        mail = json.loads(response.read())
    marker = "/verify-email#token="
    for message in mail:
        if message["to"] in emails and marker in message["text"]:
            token = message["text"].split(marker, 1)[1].split()[0]
            assert post(base, "/auth/email/verify", {"token": token}) == 204


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def run(binary, logins, concurrency):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        WARDEN_API_RATE_PER_MINUTE="600000",
        WARDEN_API_BURST="100000",
        WARDEN_LOGIN_IP_MAX_FAILURES="100000",
        WARDEN_REGISTER_IP_MAX="100000",
        WARDEN_ARGON2_QUEUE_TIMEOUT="120s",
    )
    env["WARDEN_ARGON2_CONCURRENCY"] = str(logins if concurrency == "unbounded" else concurrency)
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{port}", "--data-dir", data],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            emails = [f"burst-{port}-{i}@example.com" for i in range(logins)]
            for email in emails:
                assert post(base, "/auth/register", {"email": email, "password": PASSWORD}) == 202
            verify_all(base, data, set(emails))
            before = status_kib(proc.pid, "VmRSS")
            statuses = []
            lock = threading.Lock()
            go = threading.Event()

            def one(email):
                go.wait()
                s = post(base, "/auth/login", {"email": email, "password": PASSWORD})
                with lock:
                    statuses.append(s)

            threads = [threading.Thread(target=one, args=(e,)) for e in emails]
            for t in threads:
                t.start()
            started = time.monotonic()
            go.set()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            time.sleep(1)
            counts = {str(s): statuses.count(s) for s in sorted(set(statuses))}
            print(
                json.dumps(
                    {
                        "argon2_concurrency": concurrency,
                        "logins": logins,
                        "statuses": counts,
                        "wall_s": round(wall, 2),
                        "rss_before_mib": round(before / 1024, 1),
                        "peak_rss_mib": round(status_kib(proc.pid, "VmHWM") / 1024, 1),
                        "rss_after_mib": round(status_kib(proc.pid, "VmRSS") / 1024, 1),
                    }
                ),
                flush=True,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--logins", type=int, default=120)
    p.add_argument("--concurrency", nargs="+", default=["unbounded", "2"])
    a = p.parse_args()
    for c in a.concurrency:
        run(a.binary, a.logins, c)


if __name__ == "__main__":
    sys.exit(main())
