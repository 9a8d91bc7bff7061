"""The chat page in one language: ``<html lang="zh-Hant">`` and Gradio's own strings in Traditional Chinese.

Gradio picks its interface language from ``navigator.language`` as it starts, before any setting of
ours reaches the page, and writes ``<html lang="en">``. This middleware edits the chat page's HTML
(the one response Gradio renders at "/") so that, before Gradio's scripts run, the page is marked
``zh-Hant`` and the browser's language reads ``zh-TW``. Every other response passes untouched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.ui.middleware.guard import route_path

LANG = "zh-Hant"
GRADIO_LOCALE = "zh-TW"  # the name of Gradio's Traditional Chinese strings
_EARLY_SCRIPT = (
    "<script>window.__citeqaPage=true;try{for(const k of ['language','languages'])Object.defineProperty(navigator,k,"
    f"{{get:()=>k==='language'?'{GRADIO_LOCALE}':['{GRADIO_LOCALE}','zh']}});}}catch(e){{}}</script>"
)
_HTML_TAG = re.compile(rb"<html\b[^>]*>", re.IGNORECASE)
_HEAD_TAG = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)
MAX_PAGE_BYTES = 2_000_000  # Gradio's page is a few kB; anything bigger is passed on as it is


def localized(page: bytes) -> bytes:
    """The chat page with ``lang`` set on ``<html>`` and the language script first in ``<head>``.

    >>> localized(b'<html lang="en"><head><title>t</title>').decode()[:40]
    '<html lang="zh-Hant"><head><script>window'
    """
    page = _HTML_TAG.sub(f'<html lang="{LANG}">'.encode(), page, count=1)
    return _HEAD_TAG.sub(lambda m: m.group(0) + _EARLY_SCRIPT.encode(), page, count=1)


class ChatLanguageMiddleware:
    """Localize the HTML of GET "/" (the chat page); stream everything else through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope["method"] != "GET" or route_path(scope) != "/":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_page(send, start, b"".join(chunks))

        await self.app(scope, receive, buffered)


async def _send_page(send: Send, start: Message, body: bytes) -> None:
    headers = list(start.get("headers", []))
    is_html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
    if is_html and start.get("status") == 200 and len(body) <= MAX_PAGE_BYTES:
        body = localized(body)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
