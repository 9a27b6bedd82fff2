"""Run moto's server (DynamoDB, KMS, S3 and the rest, all on one port) one request at a time.

Why not `moto_server`: it serves each request on its own thread, and moto's conditional writes
(ConditionExpression, TransactWriteItems) check and write without a lock, so two concurrent
requests can both pass a condition real DynamoDB would let only one pass. The conformance and
concurrency tests would then report races that AWS does not have, or miss ones it does.
Running moto for one request at a time (one lock around the app) makes every moto call atomic,
as DynamoDB's are; bodies are read and sent outside the lock (`one_at_a_time`), so a slow reader
of one response cannot stall the others.

This builds the same WSGI app as moto's own `moto/server.py` (DomainDispatcherApplication over
create_backend_app, with MotoRequestHandler) and serves it with werkzeug, a thread per
connection.

It also stops moto from keeping every model object it ever made. moto's `BaseModel.__new__`
appends each instance to its class's `instances_tracked` list (for its model-data API, which
the tests do not use), and DynamoDB's TransactWriteItems deep-copies the whole table for
rollback before every transaction: so every transaction left a full copy of the table, items
and all, reachable forever. Over one test run the emulator grew past 16 GB, slowed to one
answer every few minutes as the collector walked the heap, and was once killed for memory.
Untracked, the copies are garbage as soon as the transaction ends.

And it keeps TransactWriteItems from copying the whole table at all: the rollback copy cost CPU
in proportion to the table, so transactions slowed as a test run filled it (an audit test of 200
appends took 5 s on a fresh emulator, 80 s on one a few runs old). Instead the items the
transaction names are copied before it, and put back should it fail.

It also answers `GET /_warden/ses/sent` with the raw messages SES was asked to send (moto keeps
them in memory and has no public API for them): the mail conformance suite reads back what the
SES adapter sent, as it reads the local outbox's files. And `GET /_warden/events/tapped` with
what EventBridge delivered to the tests' tap queues (see provision.py), read without consuming.

Usage: moto_serial.py --port N [--host 127.0.0.1]
"""

import argparse
import copy
import io
import json
import os
import signal
import threading

from moto.core.common_models import BaseModel
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def _untracked_new(cls, *args, **kwargs):
    """BaseModel.__new__ without the append to `instances_tracked` (see the module docstring)."""
    return object.__new__(cls)


BaseModel.__new__ = staticmethod(_untracked_new)


def _patch_transactions():
    """TransactWriteItems rolls back from a copy of the items it names, not of the whole table."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    state = {"in_transaction": False}

    def table_deepcopy(self, memo):
        if state["in_transaction"]:
            return self  # the rollback below restores what the transaction touched
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        touched = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            key = op.get("Item") or op.get("Key") or {}
            if table is None or table.hash_key_attr not in key:
                continue  # moto's own validation reports it
            h = DynamoType(key[table.hash_key_attr])
            r = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            touched.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        state["in_transaction"] = True
        try:
            return original(self, transact_items)
        except Exception:
            for table, h, r, before in reversed(touched):
                if before is None:
                    table.delete_item(h, r)
                elif r is not None:
                    table.items[h][r] = before
                else:
                    table.items[h] = before
            raise
        finally:
            state["in_transaction"] = False

    Table.__deepcopy__ = table_deepcopy
    DynamoDBBackend.transact_write_items = transact_write_items


_patch_transactions()


def sent_mail(environ, start_response):
    """The raw messages moto's SES backend recorded, oldest first, as a JSON array of strings;
    with `?to=ADDRESS`, only those whose To header is that address (every test shares the
    emulator, so its list grows with the whole run)."""
    from urllib.parse import parse_qs

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    raw = [getattr(m, "raw_data", None) for m in backend.sent_messages]
    raw = [r for r in raw if r is not None]
    to = parse_qs(environ.get("QUERY_STRING", "")).get("to")
    if to:
        header = f"\r\nTo: {to[0]}\r\n"
        raw = [r for r in raw if header in r or r.startswith(header[2:])]
    body = json.dumps(raw).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def tapped_events(environ, start_response):
    """The events the tap rules delivered (provision.py puts a rule on each event bus that sends
    everything to an SQS queue named `{bus}-tap`): the EventBridge envelopes as a JSON array,
    oldest first, read without consuming them (every test shares the emulator and filters)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    envelopes = []
    for name, queue in list(backend.queues.items()):
        if name.endswith("-tap"):
            envelopes += [json.loads(m.body) for m in list(queue._messages)]
    body = json.dumps(envelopes).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def one_at_a_time(app):
    """Runs moto for one request at a time, but moves bytes for many at once.

    A serving thread per connection reads its request body in full, then takes the lock, runs
    moto and collects the whole response, and sends it after letting go. A single-threaded
    server would also hold everyone up while one response is sent: a client that reads a large
    body slowly (an export streaming a photo out of S3 while it uploads its archive to S3 on
    another connection) then deadlocks against itself until a timeout breaks the connection.
    """
    lock = threading.Lock()

    def wrapped(environ, start_response):
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answer = {}

        def capture(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("early", []).append(data)

        with lock:
            result = app(environ, capture)
            try:
                chunks = answer.get("early", []) + list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        start_response(answer["status"], answer["headers"])
        return chunks

    return wrapped


def with_sent_mail(app):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == "/_warden/ses/sent" and environ.get("REQUEST_METHOD") == "GET":
            return sent_mail(environ, start_response)
        if environ.get("PATH_INFO") == "/_warden/events/tapped" and environ.get("REQUEST_METHOD") == "GET":
            return tapped_events(environ, start_response)
        return app(environ, start_response)

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args()

    # moto builds some URLs (queue URLs, presigned links) from this, as its own server does.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # Exit at once on SIGTERM/SIGINT (the test script kills us by pid, then waits): without
    # interpreter finalization, which once spun at full CPU after a run and stalled the script's
    # wait. Nothing here needs flushing: the emulator's state dies with it by design.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: os._exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto/server.py sets it
    run_simple(
        args.host,
        args.port,
        one_at_a_time(with_sent_mail(app)),
        threaded=True,
        processes=1,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
