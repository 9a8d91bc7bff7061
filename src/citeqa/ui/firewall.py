"""Only the Gradio routes the chat uses are reachable, and every error answers ``{"error": …}``.

Gradio mounted at "/" brings dozens of routes: uploads, a file server, proxies, streaming, monitoring.
The chat needs a handful; the rest are refused before Gradio sees them (an allow-list, so a route a
new Gradio adds is closed until it is wanted). Uploads are refused outright: nothing here takes a
file, and an open upload route is file hosting for anyone who can reach the server.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.ui.guard import route_path, send_json_error

# The app's own routes (FastAPI): they answer for themselves. Exact paths, and folders by prefix ending
# in "/", so "/doc" does not also open "/docs…" or "/document…" to Gradio.
OWN_PATHS = frozenset({"/healthz", "/docs", "/doc", "/openapi.json", "/embed"})
OWN_PREFIXES = ("/api/", "/embed/", "/docs/static/", "/static/gradio/")
# What the chat page, its web component and gradio_client use, by method (paths relative to the app root).
_GRADIO_GET = re.compile(
    r"^/(?:|config/?|theme\.css|favicon\.ico|manifest\.json|robots\.txt"
    r"|(?:assets|static|svelte)/.+"
    r"|gradio_api/(?:info/?|heartbeat/[\w-]+|queue/data|startup-events|call/[\w-]+/[\w-]+))$"
)
_GRADIO_POST = re.compile(r"^/gradio_api/(?:queue/join|call/[\w-]+|cancel)/?$")
_UPLOAD = re.compile(r"^/(?:gradio_api/)?upload(?:_progress)?/?$")


def gradio_route_allowed(method: str, path: str) -> bool:
    """Whether Gradio may answer ``method path``: ``("POST", "/gradio_api/upload")`` → False."""
    if method in ("GET", "HEAD"):
        return bool(_GRADIO_GET.match(path))
    return method == "POST" and bool(_GRADIO_POST.match(path))


class GradioRoutesMiddleware:
    """404 (uploads: 403) for every Gradio route the chat does not use."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        method = scope.get("method", "GET")
        if path in OWN_PATHS or path.startswith(OWN_PREFIXES) or gradio_route_allowed(method, path):
            await self.app(scope, receive, send)
        elif _UPLOAD.match(path):
            await send_json_error(send, 403, "uploads are not accepted: this app takes questions, not files")
        else:
            await send_json_error(send, 404, f"no such page or endpoint: {method} {path}")


class ErrorShapeMiddleware:
    """Give every JSON error an ``"error"`` field (Gradio's and Starlette's own say ``"detail"``, kept too).

    Only responses with status ≥ 400 and a JSON body are buffered (error bodies are small); streams
    pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reshaping_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                types = [v for k, v in message.get("headers", []) if k.lower() == b"content-type"]
                is_json = bool(types) and types[0].startswith(b"application/json")
                if message["status"] >= 400 and is_json:
                    start = message
                    return
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = _with_error(b"".join(chunks), start["status"])
                kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                await send(dict(start, headers=[*kept, (b"content-length", str(len(body)).encode())]))
                await send({"type": "http.response.body", "body": body})
                start = None
                return
            await send(message)

        await self.app(scope, receive, reshaping_send)


def _with_error(body: bytes, status: int) -> bytes:
    """``{"detail": "Not Found"}`` → ``{"error": "Not Found", "detail": "Not Found"}``; other bodies wrapped."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        return body
    detail = data.get("detail") if isinstance(data, dict) else None
    message = detail if isinstance(detail, str) and detail else f"request failed with HTTP {status}"
    shaped = {"error": message, **(data if isinstance(data, dict) else {})}
    shaped["error"] = message
    return json.dumps(shaped, ensure_ascii=False).encode("utf-8")
