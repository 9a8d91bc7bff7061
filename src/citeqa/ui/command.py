"""The ``citeqa serve`` subcommand (registered by citeqa.cli; imports the web stack only when run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    """Load the engine once, build the app around it and run uvicorn until interrupted."""
    import uvicorn

    from citeqa.cli import settings_from
    from citeqa.qa.engine import Engine
    from citeqa.ui.app import create_app
    from citeqa.ui.config import ServeSettings

    serve = ServeSettings.from_env(host=args.host, port=args.port, root_path=args.root_path)
    engine = Engine.open(settings_from(args), index_dir=args.index)
    app = create_app(engine, serve)
    shown = "localhost" if serve.host in ("0.0.0.0", "::") else serve.host
    print(
        f"citeqa: serving {engine.index.passage_count} passages on "
        f"http://{shown}:{serve.port}{serve.root_path}/ "
        f"(API docs {serve.root_path}/docs, embedding {serve.root_path}/embed"
        f"{', access token required' if serve.access_token else ''})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=serve.host,
        port=serve.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=3,  # the chat keeps event streams open; do not wait for them forever
    )
    return 0
