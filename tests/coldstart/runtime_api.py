"""A minimal local Lambda Runtime API, to measure a function binary's cold start.

Usage: runtime_api.py BINARY EVENT_FILE [RUNS]

For each run it starts BINARY with AWS_LAMBDA_RUNTIME_API pointing at this server, and records:
  init  = from process start to its first `GET /2018-06-01/runtime/invocation/next` (the
          runtime's signal that initialisation is done);
  first = from process start to the `POST .../response` of the one invocation it is given
          (EVENT_FILE as the payload).
Then it stops the process. Prints the median of each over RUNS (default 5) as JSON.
Only loopback is used; the binary's other environment (WARDEN_*, AWS_*) is inherited.
"""

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
        self.reset()

    def reset(self):
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


def main() -> int:
    binary, event_file = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    event = open(event_file, "rb").read()
    inits, firsts = [], []
    for _ in range(runs):
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
        if not state.done.wait(60):
            proc.kill()
            print(proc.stderr.read().decode()[-2000:], file=sys.stderr)
            print("no response within 60 s", file=sys.stderr)
            return 1
        proc.kill()
        proc.wait()
        server.shutdown()
        if state.responded is None:
            print("the function reported an error:", getattr(state, "error", b"").decode()[:500], file=sys.stderr)
            return 1
        inits.append((state.init_done - state.started) * 1000)
        firsts.append((state.responded - state.started) * 1000)
    print(json.dumps({"binary": os.path.basename(binary), "runs": runs,
                      "init_ms": round(statistics.median(inits), 1),
                      "first_response_ms": round(statistics.median(firsts), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
