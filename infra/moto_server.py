"""moto's S3 and DynamoDB on 127.0.0.1, one request at a time.

`moto_server` serves requests on many threads, and moto's DynamoDB applies a
TransactWriteItems without a lock: two concurrent conditional transactions can
both pass their checks, which real DynamoDB never allows. Serving requests one
at a time gives the atomicity the tests rely on; clients still race between
their own requests, which is what the concurrency tests exercise.

Usage: python3 infra/moto_server.py PORT
"""
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

run_simple(
    "127.0.0.1",
    int(sys.argv[1]),
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    use_reloader=False,
)
