"""Which ``Host`` a request may name, and whose ``X-Forwarded-*`` headers are believed.

A server on 127.0.0.1 is reachable from any web page the user opens by DNS rebinding: the page's
own name resolves to 127.0.0.1 and the browser sends ``Host: attacker.example``. Refusing Host names
outside an allow-list (``CITEQA_ALLOWED_HOSTS``; loopback and the interface served by default)
closes that. Forwarded headers are stripped unless the peer is a configured proxy
(``CITEQA_TRUSTED_PROXIES``), so the app's idea of its public URL cannot be set by a client.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from citeqa.ui.middleware.guard import send_json_error

_FORWARDED = (b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for", b"x-forwarded-prefix", b"forwarded")


def host_name(value: str) -> str:
    """The name part of a Host header, lower-cased: "Example.lan:7860" → "example.lan", "[::1]:80" → "::1"."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostMiddleware:
    """Refuse requests whose Host (or a trusted proxy's X-Forwarded-Host) is not allowed: 400 ``{"error"}``."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...], trusted_proxies: tuple[str, ...] = ()) -> None:
        self.app = app
        self.any_host = "*" in allowed
        self.allowed = frozenset(host_name(h) for h in allowed)
        self.trusted = frozenset(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        peer = (scope.get("client") or ("", 0))[0]
        if peer not in self.trusted:
            headers = [(k, v) for k, v in headers if k.lower() not in _FORWARDED]
        names = [v.decode("latin-1") for k, v in headers if k.lower() in (b"host", b"x-forwarded-host")]
        bad = [n for n in names for part in n.split(",") if not self._allowed(part)]
        if bad or not names:
            shown = bad[0] if bad else "(none)"
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send_json_error(
                send, 400,
                f"the host {shown!r} is not served here; add it to CITEQA_ALLOWED_HOSTS to allow it",
            )
            return
        scope = dict(scope, headers=headers)
        await self.app(_forwarded(scope) if peer in self.trusted else scope, receive, send)

    def _allowed(self, value: str) -> bool:
        return self.any_host or host_name(value) in self.allowed


def _forwarded(scope: Scope) -> Scope:
    """Apply a trusted proxy's X-Forwarded-Proto and -For: the scheme and client it saw (for URLs and logs)."""

    def first(name: bytes) -> str:
        values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
        return values[0].split(",")[0].strip() if values else ""

    proto, client = first(b"x-forwarded-proto"), first(b"x-forwarded-for")
    if proto in ("http", "https"):
        scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
    if client:
        scope["client"] = (client, 0)
    return scope
