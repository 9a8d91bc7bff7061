"""``create_app``: one FastAPI app with the REST API, the embed pages, Gradio's frontend files and the chat.

Nothing happens at import; the caller loads the engine once and passes it in, and every request
shares it. The store (``citeqa.store``: conversations, and the question log when the engine's
settings turn it on) is opened here, in ``ServeSettings.data_dir``, and closed when the app shuts
down. Route order matters: the chat is mounted at "/" last, so it only gets what the API, the embed
pages and ``/static/gradio`` do not claim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citeqa.errors import CiteqaError
from citeqa.ui.server.config import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from citeqa.qa.engine import Engine
    from citeqa.ui.middleware.firewall import ChatEvents

DESCRIPTION = """Question answering over a Traditional Chinese document, with the source paragraph
cited for every claim. `POST /api/ask` returns `{id, question, answer, grounded, citations, outcome, confidence}`
(`outcome`: answered, uncertain, not_found or conversation; `id` is what `POST /api/feedback` rates); marker `[n]`
in `answer` cites `citations[n-1]`, and `quote_start:quote_end` is the quoted sentence of its `text`.
Errors are `{"error": "..."}` with a 4xx status (503 when busy). The chat is at `/`, the embedding
snippets at `/embed`, and a
cited passage in its whole document at `/doc?source=<source>`."""


def gradio_frontend_dir() -> Path:
    """Gradio's built frontend (``gradio.js`` + ``assets/``): served here so embedding needs no CDN."""
    import gradio

    path = Path(gradio.__file__).parent / "templates" / "frontend"
    if not (path / "gradio.js").is_file():
        raise CiteqaError(f"gradio's frontend is missing: no gradio.js in {path}; reinstall gradio")
    return path


def create_app(engine: Engine, settings: ServeSettings | None = None) -> FastAPI:
    """Wire the app around an already loaded engine; see ``ServeSettings`` for CORS, token and limits."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from citeqa import __version__
    from citeqa.store import Limits, open_store
    from citeqa.store.recorder import Recorder
    from citeqa.ui.api.docs import build_docs_router
    from citeqa.ui.api.routes import build_router, install_error_handlers
    from citeqa.ui.chat.gradio_state import install_lean_state
    from citeqa.ui.chat.page import CSS, build_chat
    from citeqa.ui.chat.script import CHAT_JS
    from citeqa.ui.chat.session import Sessions
    from citeqa.ui.middleware.firewall import ChatEvents
    from citeqa.ui.pages.admin import build_admin_router
    from citeqa.ui.pages.document import build_document_router
    from citeqa.ui.server.admission import Admission, GatedEngine
    from citeqa.ui.widget.embed import STATIC_GRADIO, build_embed_router

    settings = settings or ServeSettings()
    # Opened (and pruned) before anything is served: a damaged or locked file stops the start, said plainly.
    store = open_store(settings.data_dir, Limits(days=settings.conversation_days,
                                                 log_days=engine.settings.question_log_days))
    # The question log is the same store; with it off the routes get None and never call ``record``.
    question_log = store if engine.settings.question_log else None

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        store.close()

    # docs_url=None: FastAPI's own /docs loads Swagger UI from a CDN; ui.api.docs serves it from this app.
    app = FastAPI(title="citeqa", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.store = store
    app.state.question_log = question_log
    app.state.engine = engine
    app.state.serve_settings = settings
    install_error_handlers(app)
    # One gate for every entry point: the REST API, the chat and the chat's public API.
    gated = GatedEngine(engine, Admission(slots=settings.engine_slots, max_waiting=settings.queue_size))
    app.include_router(build_router(gated, question_log))
    app.include_router(build_embed_router(settings))
    app.include_router(build_docs_router())
    app.include_router(build_document_router(engine))
    app.include_router(build_admin_router(engine, settings.admin_token))  # every /admin path 404s without a token
    app.mount(STATIC_GRADIO, StaticFiles(directory=gradio_frontend_dir()), name="gradio-frontend")
    # api_open=False: /gradio_api/run answers only the page's load, the one event off the queue; all
    # others go through the queue and its cap.
    app.state.sessions = Sessions(store)  # the chat's conversations: the store's, the recent ones cached
    chat = build_chat(gated, settings.root_path, app.state.sessions,
                      Recorder(question_log, "chat")).queue(max_size=settings.queue_size, api_open=False)
    app.state.chat = chat
    add_middlewares(app, settings, ChatEvents.of(chat))
    gr.mount_gradio_app(
        app,
        chat,
        path="/",
        root_path=settings.root_path or None,
        server_name=settings.host,
        server_port=settings.port,
        css=CSS,
        js=CHAT_JS,
        # Not "api": that is Gradio's own English page, not the REST API (/docs). Gradio 6.31 accepts
        # {"label", "url"} entries here but its frontend does not render them, so the header links /docs.
        footer_links=["settings"],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        show_error=True,
        max_file_size=settings.max_body_bytes,  # uploads are refused anyway (ui.middleware.firewall)
    )
    install_lean_state(app, chat)  # per-client memory bounded in count and size
    return app


def add_middlewares(app: FastAPI, settings: ServeSettings, events: ChatEvents) -> None:
    """Wrap the app in its middlewares, the request path outermost first (below).

    RootPath → Host → CORS → BodyLimit → Token → ErrorShape → GradioRoutes → ChatLanguage.
    """
    from fastapi.middleware.cors import CORSMiddleware

    from citeqa.ui.middleware.firewall import ErrorShapeMiddleware, GradioRoutesMiddleware
    from citeqa.ui.middleware.guard import BodyLimitMiddleware, RootPathMiddleware, TokenMiddleware
    from citeqa.ui.middleware.hosts import HostMiddleware
    from citeqa.ui.middleware.locale import ChatLanguageMiddleware

    # add_middleware wraps what is there, so they are added innermost first.
    app.add_middleware(ChatLanguageMiddleware)
    app.add_middleware(GradioRoutesMiddleware, events=events)
    app.add_middleware(ErrorShapeMiddleware)
    if settings.access_token:
        app.add_middleware(TokenMiddleware, token=settings.access_token)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    # Always present, even with no origins: Gradio then leaves CORS to this policy instead of its own.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],  # Gradio's client sends its own x-gradio-* headers; origins stay restricted
        max_age=600,
    )
    app.add_middleware(HostMiddleware, allowed=settings.hosts(), trusted_proxies=settings.trusted_proxies)
    app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
