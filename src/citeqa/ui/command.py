"""The ``citeqa serve`` subcommand (registered by citeqa.cli; imports the web stack only when run)."""

from __future__ import annotations

import argparse
import errno
import logging
import re
import socket
import sys
from pathlib import Path

from citeqa.errors import InputError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_serve_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``citeqa serve`` on the CLI's subparsers."""
    s = sub.add_parser(
        "serve",
        help="start the chat UI, REST API and embed page",
        description=(
            "Serve the Gradio chat at /, the REST API at /api (docs at /docs) and the embedding snippets "
            "at /embed. Environment: CITEQA_CORS_ORIGINS (comma separated, default none), "
            "CITEQA_ACCESS_TOKEN (require a token on every page and call), "
            "CITEQA_MAX_BODY_BYTES (default 65536)."
        ),
    )
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    s.add_argument(
        "--root-path", default="", metavar="PREFIX", help="public sub-path behind a reverse proxy (/citeqa)"
    )
    s.add_argument("--index", type=Path, help="index directory (default: the user data dir)")
    s.add_argument("--model", help="sentence-transformers model name or folder (CITEQA_EMBED_MODEL)")
    from citeqa.cli import backend_options

    backend_options(s)
    s.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="uvicorn log level (default info)")
    s.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Bind the port, load the engine once, build the app around it and run uvicorn until interrupted.

    The port is bound before the model is loaded: a port in use fails in a second, not after it.
    """
    import uvicorn

    from citeqa.cli import settings_from
    from citeqa.qa.engine import Engine
    from citeqa.ui.app import create_app
    from citeqa.ui.config import ServeSettings

    serve = ServeSettings.from_env(host=args.host, port=args.port, root_path=args.root_path)
    sock = bind(serve.host, serve.port)
    try:
        engine = Engine.open(settings_from(args), index_dir=args.index)
        app = create_app(engine, serve)
        config = uvicorn.Config(
            app,
            log_level=args.log_level,
            proxy_headers=False,  # forwarded headers are judged by ui.hosts against CITEQA_TRUSTED_PROXIES
            timeout_graceful_shutdown=3,  # the chat keeps event streams open; do not wait for them forever
        )
        redact_tokens_in_logs()  # after Config, which (re)configures uvicorn's loggers
        shown = "localhost" if serve.host in ("0.0.0.0", "::") else serve.host
        print(
            f"citeqa: serving {engine.index.passage_count} passages on "
            f"http://{shown}:{serve.port}{serve.root_path}/ "
            f"(API docs {serve.root_path}/docs, embedding {serve.root_path}/embed"
            f"{', access token required' if serve.access_token else ''})",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
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


_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*", re.IGNORECASE)


class _RedactTokens(logging.Filter):
    """Replace the value of ``token=`` in access-log lines: links with ``?token=`` are logged too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        return True


def redact_tokens_in_logs() -> None:
    """Attach the redaction to uvicorn's loggers (the access log holds every request's query string)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in logger.filters):
            logger.addFilter(_RedactTokens())
