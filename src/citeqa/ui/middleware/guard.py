"""Pure ASGI middlewares: the proxy sub-path, the request body limit and the access token.

They are plain ASGI (not ``BaseHTTPMiddleware``) so Gradio's streamed responses pass through untouched.
Order, outermost first: ``RootPathMiddleware`` → CORS → ``BodyLimitMiddleware`` → ``TokenMiddleware``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "citeqa_token"
TOKEN_QUERY = "token"


def route_path(scope: Scope) -> str:
    """Return the request path without the app's root path: "/citeqa/api/ask" → "/api/ask"."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


async def send_json_error(
    send: Send, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Send ``{"error": message}`` with ``status``: every refusal of this app has that shape."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RootPathMiddleware:
    """Serve the app under ``root_path`` whether or not the reverse proxy strips that prefix.

    A proxy that strips it forwards "/api/ask"; one that does not forwards "/citeqa/api/ask". Both
    reach the same route, and every URL the app writes (Gradio's config, /docs, the embed page) starts
    with ``root_path``. Used instead of uvicorn's ``--root-path``, which only handles the first kind.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] in ("http", "websocket") and self.root_path:
            root = self.root_path
            path: str = scope["path"]
            scope = dict(scope, root_path=root)
            if not (path == root or path.startswith(root + "/")):
                scope["path"] = root + path
                scope["raw_path"] = root.encode() + scope.get("raw_path", path.encode())
        await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit; FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes on ``prefixes``: by Content-Length and by bytes read.

    The default covers every route, Gradio's call and queue routes included: a chat call is a
    question and nothing more.
    """

    def __init__(self, app: ASGIApp, limit: int, prefixes: tuple[str, ...] = ("/",)) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or not route_path(scope).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_json_error(send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > self.limit:
                await send_json_error(send, 413, BodyTooLarge(self.limit).detail)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json_error(send, 413, exc.detail)


class TokenMiddleware:
    """Require the access token on every path except ``public`` ones.

    Accepted from ``Authorization: Bearer <token>``, a ``?token=`` query parameter (links and iframes)
    or the ``citeqa_token`` cookie. Tokens are compared as UTF-8 bytes, so a Chinese passphrase works.
    A page opened with a valid ``?token=`` is redirected to the same URL without it, with the cookie
    set, so the token leaves the address bar and history; the cookie holds a keyed digest of the
    token, not the token. The Gradio page's own follow-up requests (assets, queue) carry the cookie.
    """

    # /widget.js holds no data, the same script for everyone: a page of another site must load it to
    # say, inside the widget, that this server needs sign-in (its /api/ask still answers 401).
    # /admin… checks its own token (ui.pages.admin): the chat's token must neither be needed there
    # (the admin's Bearer header carries the admin token) nor be enough.
    def __init__(self, app: ASGIApp, token: str, public: tuple[str, ...] = ("/healthz", "/widget.js", "/admin"),
                 public_prefixes: tuple[str, ...] = ("/admin/",)) -> None:
        self.app = app
        self.token = token.encode("utf-8")
        self.cookie_value = hmac.new(self.token, b"citeqa-cookie-v1", hashlib.sha256).hexdigest().encode()
        self.public = public
        self.public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] not in ("http", "websocket") or (scope["type"] == "http" and self._public(route_path(scope))):
            await self.app(scope, receive, send)
            return
        via_query = _equal(_query_token(scope), self.token)
        by_cookie = any(_equal(v, self.cookie_value) for v in _cookies(scope))
        if not (via_query or by_cookie or _equal(_bearer(scope), self.token)):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send_json_error(
                send, 401,
                "an access token is required: send 'Authorization: Bearer <token>' "
                "or open the page with ?token=<token>",
                headers=[("www-authenticate", 'Bearer realm="citeqa"')],
            )
            return
        if not via_query or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = _token_cookie(self.cookie_value, scope.get("root_path", "") or "/")
        if scope.get("method") in ("GET", "HEAD") and b"text/html" in (_header_bytes(scope, b"accept") or b""):
            await _redirect_without_token(scope, send, cookie)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _public(self, path: str) -> bool:
        return path in self.public or path.startswith(self.public_prefixes)


async def _redirect_without_token(scope: Scope, send: Send, cookie: bytes) -> None:
    """303 to the same path and query minus ``token``: the cookie now carries the access."""
    query = urlencode([(k, v) for k, v in parse_qsl(_query(scope), keep_blank_values=True) if k != TOKEN_QUERY])
    path = scope.get("raw_path") or quote(scope["path"]).encode("ascii")  # as sent: still percent-encoded
    location = b"/" + bytes(path).lstrip(b"/") + (b"?" + query.encode("ascii") if query else b"")  # no //other.host
    headers = [(b"location", location), (b"set-cookie", cookie), (b"cache-control", b"no-store"),
               (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _equal(candidate: bytes | None, expected: bytes) -> bool:
    return candidate is not None and hmac.compare_digest(candidate, expected)


def _header_bytes(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    raw = _header_bytes(scope, name)
    return None if raw is None else raw.decode("latin-1")


def _bearer(scope: Scope) -> bytes | None:
    """The credentials of ``Authorization: Bearer …`` as the bytes sent (UTF-8 for a non-ASCII token)."""
    value = _header_bytes(scope, b"authorization")
    if value is None:
        return None
    scheme, _, credentials = value.partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else None


def _query(scope: Scope) -> str:
    return str(scope.get("query_string", b"").decode("latin-1"))


def _query_token(scope: Scope) -> bytes | None:
    values = [v for k, v in parse_qsl(_query(scope), keep_blank_values=True) if k == TOKEN_QUERY]
    return values[0].encode("utf-8") if values else None  # percent-escapes decode as UTF-8


def _cookies(scope: Scope) -> list[bytes]:
    """Every ``citeqa_token`` cookie sent (one per path that set it), read leniently.

    Cookies are shared by every app on a host; one whose value ``SimpleCookie`` dislikes (JSON, a
    space) must not hide ours, so the header is split on ``;`` by hand.
    """
    raw = _header_bytes(scope, b"cookie") or b""
    found = []
    for part in raw.split(b";"):
        name, sep, value = part.strip().partition(b"=")
        if sep and name == TOKEN_COOKIE.encode():
            found.append(value.strip().strip(b'"'))
    return found


def _token_cookie(value: bytes, path: str) -> bytes:
    return b"%s=%s; HttpOnly; Path=%s; SameSite=Lax" % (TOKEN_COOKIE.encode(), value, path.encode("ascii"))
