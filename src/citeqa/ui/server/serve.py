"""``serve``: run the web app (``citeqa serve``); imports the web stack only when called.

Questions of concurrent requests are encoded together: the engine's model is wrapped in a
``BatchingEmbedder`` (one worker thread, a bounded queue, 503 with Retry-After when it is full).
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path

from citeqa.errors import InputError
from citeqa.settings import Settings
from citeqa.ui.server.config import ServeSettings


def serve(settings: Settings, web: ServeSettings, *, index_dir: Path | None = None, log_level: str = "info") -> int:
    """Bind the port, load the engine once, build the app around it and run uvicorn until interrupted.

    The port is bound before the model is loaded: a port in use fails in a second, not after it.
    """
    import uvicorn

    from citeqa.embedding.batching import BatchingEmbedder
    from citeqa.index.registry import backend_for
    from citeqa.index.update import embedder_for
    from citeqa.qa.engine import Engine
    from citeqa.ui.server.app import create_app
    from citeqa.ui.server.redact import redact_secrets_in_logs

    sock = bind(web.host, web.port)
    batcher: BatchingEmbedder | None = None
    try:
        backend_for(settings, index_dir)  # a missing extra fails before the model is loaded
        batcher = BatchingEmbedder(embedder_for(settings))
        engine = Engine.open(settings, index_dir=index_dir, embedder=batcher)
        batcher.inner.encode_queries(["warm-up"])  # the question engine loads now, not on the first request
        app = create_app(engine, web)
        config = uvicorn.Config(
            app,
            log_level=log_level,
            proxy_headers=False,  # forwarded headers are judged by ui.middleware.hosts against CITEQA_TRUSTED_PROXIES
            timeout_graceful_shutdown=3,  # the chat keeps event streams open; do not wait for them forever
        )
        redact_secrets_in_logs()  # after Config, which (re)configures uvicorn's loggers
        shown = "localhost" if web.host in ("0.0.0.0", "::") else web.host
        print(
            f"citeqa: serving {engine.index.passage_count} passages on "
            f"http://{shown}:{web.port}{web.root_path}/ "
            f"(API docs {web.root_path}/docs, embedding {web.root_path}/embed"
            f"{', access token required' if web.access_token else ''})",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        if batcher is not None:
            batcher.close()
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; InputError when the port is taken or the address is not ours."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts reuse the port
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = "; stop the other server or choose another --port" if exc.errno == errno.EADDRINUSE else ""
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc
    sock.set_inheritable(True)
    return sock
