"""A stand-in for ``citeqa serve`` (``/healthz`` and ``/api/ask``), for testing the load generator itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def stub_server(info: dict[str, Any]) -> Iterator[str]:
    """A tiny threaded HTTP server with /healthz and /api/ask, for testing the load generator itself."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "ok", "passages": 0, "model": "stub"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/api/ask":
                self._reply(404, {"error": "not found"})
                return
            time.sleep(0.005)  # a little "work"
            answer = {"question": body.get("question"), "answer": "stub", "grounded": False, "citations": []}
            self._reply(200, answer)

        def log_message(self, *_: Any) -> None:
            return

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    info["stub"] = True
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
