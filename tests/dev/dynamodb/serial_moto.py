"""A local DynamoDB for the end-to-end tests: the moto server, one request at a time.

moto's own `moto_server` serves each request on its own thread and checks a write's
condition and makes the write as two steps, so two conditional writes at once can both
pass; real DynamoDB makes each conditional write atomic. Served one at a time, moto is
atomic too, and races between the app's requests stay as exact as on DynamoDB.

Usage: python3 serial_moto.py [PORT]   (needs `pip install 'moto[server]'`)
Prints the port it listens on (PORT, or one the system picks when none is given), then serves.
"""

import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

if __name__ == "__main__":
    server = make_server(
        "127.0.0.1",
        int(sys.argv[1]) if len(sys.argv) > 1 else 0,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )
    print(server.server_port, flush=True)
    server.serve_forever()
