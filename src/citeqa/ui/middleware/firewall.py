"""Only the Gradio routes the chat uses are reachable, and every error answers ``{"error": …}``.

Gradio mounted at "/" brings dozens of routes: uploads, a file server, proxies, streaming, monitoring.
The chat needs a handful; the rest are refused before Gradio sees them (an allow-list, so a route a
new Gradio adds is closed until it is wanted). Uploads are refused outright: nothing here takes a
file, and an open upload route is file hosting for anyone who can reach the server. A call must
name one of the chat's own events too: Gradio answers an unknown one with a bare 500.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.ui.middleware.guard import route_path, send_json_error

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

# The app's own routes (FastAPI): they answer for themselves. Exact paths, and folders by prefix ending
# in "/", so "/doc" does not also open "/docs…" or "/document…" to Gradio.
OWN_PATHS = frozenset({"/healthz", "/docs", "/doc", "/openapi.json", "/embed", "/widget.js", "/admin"})
OWN_PREFIXES = ("/api/", "/embed/", "/docs/static/", "/static/gradio/", "/admin/")
# What the chat page, its web component and gradio_client use, by method (paths relative to the app root).
_GRADIO_GET = re.compile(
    r"^/(?:|config/?|theme\.css|favicon\.ico|manifest\.json|robots\.txt"
    r"|(?:assets|static|svelte)/.+"
    r"|gradio_api/(?:info/?|heartbeat/[\w-]+|queue/data|startup-events|call/[\w-]+/[\w-]+))$"
)
_GRADIO_POST = re.compile(r"^/gradio_api/(?:queue/join|call/[\w-]+|run/predict|cancel)/?$")
_CALL_BY_NAME = re.compile(r"^/gradio_api/call/([\w-]+)/?$")
_CALL_BY_INDEX = re.compile(r"^/gradio_api/(?:queue/join|run/predict)/?$")  # the page's own calls
_UPLOAD = re.compile(r"^/(?:gradio_api/)?upload(?:_progress)?/?$")


def gradio_route_allowed(method: str, path: str) -> bool:
    """Whether Gradio may answer ``method path``: ``("POST", "/gradio_api/upload")`` → False."""
    if method in ("GET", "HEAD"):
        return bool(_GRADIO_GET.match(path))
    return method == "POST" and bool(_GRADIO_POST.match(path))


@dataclass(frozen=True)
class ChatEvents:
    """What a call may name: the chat's event indices, and the API names open to ``/gradio_api/call``."""

    indices: frozenset[int]
    public: frozenset[str]
    selects: frozenset[int]  # events fired by selecting an item: they need what was selected

    @classmethod
    def of(cls, blocks: gr.Blocks) -> ChatEvents:
        """The events of a built chat: its page's private events are reachable by index only."""
        fns = blocks.fns.values()
        return cls(frozenset(fn._id for fn in fns),
                   frozenset(fn.api_name for fn in fns if fn.api_name and fn.api_visibility == "public"),
                   frozenset(fn._id for fn in fns if any(name.endswith("select") for _, name in fn.targets)))

    def refusal(self, path: str, body: bytes) -> tuple[int, str] | None:
        """Why a call to ``path`` with ``body`` is refused, or None to let Gradio judge it."""
        named = _CALL_BY_NAME.match(path)
        if named and named.group(1) not in self.public:
            return 404, f"no such chat API: {named.group(1)}"
        try:
            data: Any = json.loads(body)
        except RecursionError:  # Gradio would fail on it with a 500 and a traceback
            return 400, "the request body is not valid JSON: it is nested too deeply"
        except ValueError:
            return None  # Gradio's own 422 says what is wrong with the JSON
        if not isinstance(data, dict):
            return None  # its 422
        refused = inputs_refusal(data)
        if refused or named:
            return refused
        if "fn_index" not in data and "queue/join" in path:
            return None  # its "No function index provided."
        index = data.get("fn_index")
        if isinstance(index, str) and index.isascii() and index.isdigit():
            index = int(index)  # Gradio's model coerces it so
        if isinstance(index, bool) or not isinstance(index, int) or index not in self.indices:
            return 400, f"no such chat event: fn_index {json.dumps(index)[:40]}"
        selected = data.get("event_data")
        if index in self.selects and not (isinstance(selected, dict) and {"index", "value"} <= selected.keys()):
            # Gradio would fail inside the event with a Python error as its message, and a traceback.
            return 400, "a select event needs event_data with the selected item's index and value"
        return None


def inputs_refusal(call: dict[str, Any]) -> tuple[int, str] | None:
    """Why a call's inputs are refused: the chat's inputs are text, and nothing else reaches Gradio.

    Gradio pre-processes any input shaped as a file (``{"path": …, "meta": {"_type": "gradio.FileData"}}``,
    at any depth) before an event runs: it hashes and copies the named server file on the event loop,
    so ``/dev/zero`` or a FIFO froze the whole server and a regular file was copied into its cache.
    Text-only inputs close that at the root, whatever shape a file takes in a later Gradio.
    """
    values = call.get("data")
    if values is not None and not (isinstance(values, list) and all(v is None or isinstance(v, str) for v in values)):
        return 422, 'the chat takes text only: "data" must be a list of strings'
    if _holds_object_with(call.get("event_data"), _FILE_KEYS):
        return 422, "event_data must not hold a file object"
    session = call.get("session_hash")
    if session is not None and not (isinstance(session, str) and _SESSION_HASH.fullmatch(session)):
        return 422, "session_hash must be 1 to 64 letters, digits, '-' or '_'"
    return None


_FILE_KEYS = frozenset({"path", "url", "meta"})
_SESSION_HASH = re.compile(r"[\w-]{1,64}", re.ASCII)  # Gradio's client makes ~11 base-36 characters


def _holds_object_with(value: object, keys: frozenset[str]) -> bool:
    """Whether a JSON value holds, at any depth, an object with one of ``keys`` (iterative: no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if keys & item.keys():
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class GradioRoutesMiddleware:
    """404 (uploads: 403) for every Gradio route the chat does not use; 4xx for a call to no event."""

    def __init__(self, app: ASGIApp, events: ChatEvents) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        method = scope.get("method", "GET")
        if path in OWN_PATHS or path.startswith(OWN_PREFIXES):
            await self.app(scope, receive, send)
        elif gradio_route_allowed(method, path):
            if method == "POST" and (_CALL_BY_NAME.match(path) or _CALL_BY_INDEX.match(path)):
                checked = await self._checked(path, receive, send)
                if checked is None:
                    return
                receive = checked
            await self.app(scope, receive, send)
        elif _UPLOAD.match(path):
            await send_json_error(send, 403, "uploads are not accepted: this app takes questions, not files")
        else:
            await send_json_error(send, 404, f"no such page or endpoint: {method} {path}")


    async def _checked(self, path: str, receive: Receive, send: Send) -> Receive | None:
        """Read the body (the body limit, outside, bounds it) and refuse it, or replay it to Gradio."""
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        refused = self.events.refusal(path, body)
        if refused:
            await send_json_error(send, *refused)
            return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay


class ErrorShapeMiddleware:
    """Give every JSON error an ``"error"`` field (Gradio's and Starlette's own say ``"detail"``, kept too).

    Only responses with status ≥ 400 and a JSON body are buffered (error bodies are small); streams
    pass through untouched. An exception nothing handled becomes a logged 500 ``{"error"}`` instead of
    Starlette's plain-text page; HTTP exceptions (the body limit's 413) go on to their handlers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        responded = False

        async def reshaping_send(message: Message) -> None:
            nonlocal start, responded
            responded = True
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

        try:
            await self.app(scope, receive, reshaping_send)
        except HTTPException:
            raise
        except Exception:
            if responded:
                raise
            log.exception("unhandled error in %s %s", scope.get("method"), route_path(scope))
            await send_json_error(send, 500, "internal server error; the server's log has the details")


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
