"""A minimal local Lambda Runtime API, to measure function binaries' cold start side by side.

Usage: runtime_api.py [--runs N] [--baseline BINARY EVENT_FILE] BINARY EVENT_FILE [BINARY EVENT_FILE ...]

For each run it starts a BINARY with AWS_LAMBDA_RUNTIME_API pointing at this server, and records:
  init  = from process start to its first `GET /2018-06-01/runtime/invocation/next` (the
          runtime's signal that initialisation is done);
  first = from process start to the `POST .../response` of the one invocation it is given
          (EVENT_FILE as the payload).
Then it stops the process. The binaries take turns, one process each per round (the baseline
first), so a change in the machine's speed lands on all of them alike. Prints one JSON line per
binary: the median of each over N rounds (default 5) and, with a baseline, init as a multiple of
the baseline's median init.
Only loopback is used; the binary's other environment (WARDEN_*, AWS_*) is inherited.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, event: bytes):
        self.event = event
        self.started = 0.0
        self.init_done = None
        self.responded = None
        self.served = False
        self.done = threading.Event()


def handler(state: State):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.endswith("/invocation/next"):
                if state.init_done is None:
                    state.init_done = time.monotonic()
                if state.served:
                    state.done.wait(30)
                    self.send_response(500)
                    self.end_headers()
                    return
                state.served = True
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:coldstart")
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(state.event)
            else:
                self.send_response(404)
                self.end_headers()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if self.path.endswith("/response"):
                state.responded = time.monotonic()
                state.response = body
            else:
                state.error = body
            self.send_response(202)
            self.end_headers()
            state.done.set()

    return H


def cold_start(binary: str, event: bytes) -> tuple[float, float]:
    """One fresh process of `binary` given `event`: (init ms, first response ms)."""
    # A fresh server per run: no request of the previous process can reach this one.
    state = State(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}",
               AWS_LAMBDA_FUNCTION_NAME="coldstart", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
               AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_STREAM_NAME="coldstart",
               AWS_LAMBDA_LOG_GROUP_NAME="coldstart")
    state.started = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not state.done.wait(60):
            proc.kill()
            print(proc.stderr.read().decode()[-2000:], file=sys.stderr)
            raise SystemExit(f"{binary}: no response within 60 s")
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
    if state.responded is None:
        raise SystemExit(f"{binary} reported an error: {getattr(state, 'error', b'').decode()[:500]}")
    return (state.init_done - state.started) * 1000, (state.responded - state.started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", nargs=2, metavar=("BINARY", "EVENT_FILE"))
    parser.add_argument("pairs", nargs="+", metavar="BINARY EVENT_FILE")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give each BINARY its EVENT_FILE")
    subjects = ([tuple(args.baseline)] if args.baseline else []) + list(
        zip(args.pairs[::2], args.pairs[1::2]))
    events = {e: open(e, "rb").read() for _, e in subjects}
    inits = [[] for _ in subjects]
    firsts = [[] for _ in subjects]
    for _ in range(args.runs):
        for i, (binary, event_file) in enumerate(subjects):
            init, first = cold_start(binary, events[event_file])
            inits[i].append(init)
            firsts[i].append(first)
    base = statistics.median(inits[0]) if args.baseline else None
    for i, (binary, event_file) in enumerate(subjects):
        init = statistics.median(inits[i])
        name = os.path.basename(binary)
        if name == "bootstrap":  # target/lambda/<function>/bootstrap
            name = os.path.basename(os.path.dirname(os.path.abspath(binary)))
        row = {"binary": name, "event": os.path.basename(event_file), "runs": args.runs,
               "init_ms": round(init, 1), "first_response_ms": round(statistics.median(firsts[i]), 1)}
        if base:
            row["init_vs_baseline"] = round(init / base, 2)
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
