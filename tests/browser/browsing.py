"""Helpers for the browser tests: a tab that blocks every request off 127.0.0.1, and chat actions."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from support import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 90_000


class Tab:
    """A fresh browser context (English browser, as a first-time visitor's may be) that blocks and
    counts every request leaving 127.0.0.1, and records page errors and failed responses."""

    def __init__(self, browser: object, viewport: dict[str, int], allowed_hosts: tuple[str, ...]) -> None:
        self.context = browser.new_context(viewport=viewport, locale="en-US")  # type: ignore[attr-defined]
        self.context.grant_permissions(["clipboard-read", "clipboard-write"])
        self.allowed = ("127.0.0.1", *allowed_hosts)
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.watch(self.page)
        self.trace: list[str] = []  # kept beside the screenshot when a test fails
        self.record(self.page)

    def watch(self, page: object) -> None:
        page.on("pageerror", lambda e: self.errors.append(str(e)))  # type: ignore[attr-defined]
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))  # type: ignore[attr-defined]

    def record(self, page: object) -> None:
        """Log the page's requests, responses and console lines (Gradio's queue traffic shows why an event hung)."""
        def log(line: str) -> None:
            self.trace.append(f"{time.monotonic():.3f} {line}")

        def request_line(r: object) -> str:
            body = (r.post_data or "")[:160] if r.method == "POST" else ""  # type: ignore[attr-defined]
            return f"request {r.method} {r.url} {body}"  # type: ignore[attr-defined]

        page.on("console", lambda m: log(f"console {m.type} {m.text[:200]}"))  # type: ignore[attr-defined]
        page.on("request", lambda r: log(request_line(r)))  # type: ignore[attr-defined]
        page.on("response", lambda r: log(f"response {r.status} {r.url}"))  # type: ignore[attr-defined]
        page.on("requestfailed", lambda r: log(f"failed {r.url} {r.failure}"))  # type: ignore[attr-defined]

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in self.allowed:
            self.blocked.append(url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    def shot(self, name: str, page: object | None = None) -> None:
        (page or self.page).screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def open_chat(tab: Tab, url: str) -> None:
    tab.page.goto(url, wait_until="load")  # a Gradio page never reaches "networkidle"
    tab.page.wait_for_selector("#citeqa-question textarea", timeout=WAIT_MS)
    tab.page.wait_for_function("document.documentElement.lang === 'zh-Hant'", timeout=WAIT_MS)


def ask(root: object, question: str, *, wait: bool = True) -> None:
    """Type a question into the chat (a page, frame or element) and wait for its answer (or only its bubble).

    Waits for the box to be cleared too: the submit's reply sets it to "" and may land a moment after
    the bubble shows, so text typed at once (as the next ``ask`` would) could be wiped.
    """
    from playwright.sync_api import expect

    n = root.locator(".citeqa-answer").count()  # type: ignore[attr-defined]
    asked = root.locator(".citeqa-question").count()  # type: ignore[attr-defined]
    box = root.locator("#citeqa-question textarea")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")
    expect(box).to_have_value("", timeout=WAIT_MS)
    if wait:
        root.locator(".citeqa-answer").nth(n).wait_for(timeout=WAIT_MS)  # type: ignore[attr-defined]
    else:
        # Its bubble, not the pending one: a quick answer can replace that before it is ever seen.
        root.locator(".citeqa-question").nth(asked).wait_for(timeout=WAIT_MS)  # type: ignore[attr-defined]
