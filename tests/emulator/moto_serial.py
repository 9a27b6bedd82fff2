"""Run moto's server (DynamoDB, KMS, S3 and the rest, all on one port) one request at a time.

Why not `moto_server`: it serves each request on its own thread, and moto's conditional writes
(ConditionExpression, TransactWriteItems) check and write without a lock, so two concurrent
requests can both pass a condition real DynamoDB would let only one pass. The conformance and
concurrency tests would then report races that AWS does not have, or miss ones it does.
Serving requests strictly one after another makes every moto call atomic, as DynamoDB's are.

This builds the same WSGI app as moto's own `moto/server.py` (DomainDispatcherApplication over
create_backend_app, with MotoRequestHandler) and serves it with werkzeug, threaded=False and
processes=1. Without workers werkzeug answers HTTP/1.0 and closes each connection, so an idle
keep-alive connection from one client cannot stall the others.

Usage: moto_serial.py --port N [--host 127.0.0.1]
"""

import argparse
import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args()

    # moto builds some URLs (queue URLs, presigned links) from this, as its own server does.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # Exit cleanly on SIGTERM/SIGINT (the test script kills us by pid).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto/server.py sets it
    run_simple(
        args.host,
        args.port,
        app,
        threaded=False,
        processes=1,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
