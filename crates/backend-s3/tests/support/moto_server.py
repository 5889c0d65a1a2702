"""moto's S3 server for the backend-s3 tests, benchmark and `cargo xtask s3-up`.

Usage: python moto_server.py PORT [--exit-on-stdin-eof]

moto 5.2 checks If-Match and stores the object in two steps without a lock,
and its server is threaded, so two conditional writes can both pass the
check. Real S3 makes the check and the write one atomic step; serialising
PutObject handling gives moto the same semantics.

With --exit-on-stdin-eof the server exits when its stdin closes, so a test
process that holds the pipe stops it just by ending.
"""
import os
import sys
import threading

if "--exit-on-stdin-eof" in sys.argv[2:]:
    def _watch():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=_watch, daemon=True).start()

from moto.s3.responses import S3Response  # noqa: E402

_put_lock = threading.Lock()
_put_object = S3Response.put_object


def _serialised_put_object(self, *args, **kwargs):
    with _put_lock:
        return _put_object(self, *args, **kwargs)


S3Response.put_object = _serialised_put_object

from moto.server import main  # noqa: E402

main(["-H", "127.0.0.1", "-p", sys.argv[1]])
