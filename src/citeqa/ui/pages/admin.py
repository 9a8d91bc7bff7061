"""``/admin``: what people asked, what the documents did not answer, and how answers were rated.

Served only when ``CITEQA_ADMIN_TOKEN`` is set; otherwise every ``/admin…`` path is a 404 ``{"error"}``,
as if there were no such page. It has its own token, never the chat's ``CITEQA_ACCESS_TOKEN``
(``TokenMiddleware`` lets ``/admin`` paths through to the check here, so the chat's token alone
opens nothing): ``Authorization: Bearer <admin token>`` for scripts, or the sign-in form, which sets
``citeqa_admin``, an HttpOnly, ``SameSite=Strict`` cookie holding a keyed digest of the token (never
the token), scoped to ``<root>/admin``. Tokens and digests are compared in constant time.

Routes: ``GET /admin`` (the page; ``?days=`` 1–3650, default 30), ``POST /admin/login`` (the form),
``POST /admin/logout``, ``GET /admin/export.csv`` and ``/admin/export.jsonl`` (every logged answer with
its rating). The page and its parts are built by ``ui.pages.admin_view``; the data comes from the
store's ``QuestionLog`` and the gaps from ``citeqa.eval.gaps.find_gaps``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from citeqa.store.questions import Feedback, LoggedAnswer
from citeqa.ui.pages import admin_view
from citeqa.ui.pages.admin_style import CSP

if TYPE_CHECKING:
    from citeqa.eval.gaps import GapGroup
    from citeqa.qa.engine import Engine
    from citeqa.store.questions import QuestionLog

__all__ = ["ADMIN_COOKIE", "build_admin_router", "csv_cell", "export_csv", "export_jsonl"]

ADMIN_PATH = "/admin"
ADMIN_COOKIE = "citeqa_admin"
DEFAULT_DAYS = 30
MAX_DAYS = 3650
MAX_GROUPS = 50  # gap groups shown: the biggest; the CLI lists them all
MAX_FORM_BYTES = 4096
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads these as a formula (OWASP)
EXPORT_FIELDS = ("id", "time", "channel", "question", "resolved", "outcome", "confidence", "cited",
                 "rating", "comment", "rating_changed")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class AdminAuth:
    """The admin token, and the digest its cookie holds: ``hmac(token, "citeqa-admin-cookie-v1")``."""

    # Guessing: after this many wrong tokens within a minute, every attempt is refused (429) until the
    # minute has passed, right ones too (else a guess that works would still tell itself apart). For
    # all clients together: behind a proxy every client has the proxy's address.
    MAX_WRONG_PER_MINUTE = 20

    def __init__(self, token: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token.encode("utf-8")
        self.cookie_value = hmac.new(self.token, b"citeqa-admin-cookie-v1", hashlib.sha256).hexdigest().encode()
        self._wrong: deque[float] = deque()
        self._clock = clock
        self._lock = threading.Lock()

    def locked(self) -> bool:
        """Too many wrong tokens in the last minute: refuse every attempt until it has passed."""
        with self._lock:
            now = self._clock()
            while self._wrong and now - self._wrong[0] > 60.0:
                self._wrong.popleft()
            return len(self._wrong) >= self.MAX_WRONG_PER_MINUTE

    def wrong(self) -> None:
        """Count a wrong token."""
        with self._lock:
            self._wrong.append(self._clock())

    def token_matches(self, candidate: str | bytes | None) -> bool:
        """Whether ``candidate`` is the admin token (constant time; a Chinese passphrase works too)."""
        if candidate is None:
            return False
        raw = candidate.encode("utf-8") if isinstance(candidate, str) else candidate
        return hmac.compare_digest(raw, self.token)

    def status(self, request: Request) -> int:
        """200 when the request proves the admin token, 401 when it offers nothing, 403 when it offers a wrong one."""
        offered = False
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            if self.token_matches(credentials.strip().encode("latin-1")):
                return 200
            offered = True
        for value in _cookie_values(request, ADMIN_COOKIE):
            if hmac.compare_digest(value.encode("latin-1"), self.cookie_value):
                return 200
            offered = True
        return 403 if offered else 401

    def cookie(self, request: Request, *, clear: bool = False) -> str:
        """The ``Set-Cookie`` value: the digest, HttpOnly, SameSite=Strict, only for ``<root>/admin``."""
        path = (request.scope.get("root_path", "") or "") + ADMIN_PATH
        value = "" if clear else self.cookie_value.decode()
        secure = "; Secure" if request.url.scheme == "https" else ""
        expiry = "; Max-Age=0" if clear else ""
        return f"{ADMIN_COOKIE}={value}; HttpOnly; SameSite=Strict; Path={path}{secure}{expiry}"


def build_admin_router(engine: Engine, token: str) -> APIRouter:
    """``/admin`` and its exports; every path a 404 when ``token`` is "".

    The log is ``app.state.question_log`` (``create_app``): the store, or None when the log is off.
    """
    router = APIRouter(include_in_schema=False)
    auth = AdminAuth(token) if token else None
    gaps = GapsCache(engine)

    def refusal(request: Request) -> Response | None:
        """None when the request may see the admin data, else the response refusing it."""
        if auth is None:
            return JSONResponse({"error": f"no such page or endpoint: {request.method} {request.url.path}"},
                                status_code=404)
        if auth.locked():
            return _too_many(request)
        status = auth.status(request)
        if status == 200:
            return None
        if status == 403:
            auth.wrong()
        if "text/html" in request.headers.get("accept", "") and request.method in ("GET", "HEAD"):
            wrong = "登入資訊已失效或不正確，請重新輸入管理權杖。" if status == 403 else ""
            return _html(admin_view.sign_in_page(_root(request), wrong), status)
        message = ("the admin token is wrong" if status == 403 else "the admin token is required: "
                   "send 'Authorization: Bearer <CITEQA_ADMIN_TOKEN>' or sign in at /admin")
        headers = {"WWW-Authenticate": 'Bearer realm="citeqa-admin"'} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @router.api_route(ADMIN_PATH, methods=["GET", "HEAD"])
    def page(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        days = _days(request.query_params.get("days"))
        if days is None:
            return JSONResponse({"error": f"days must be a whole number from 1 to {MAX_DAYS}"}, status_code=422)
        store = _log(request)
        if store is None:
            return _html(admin_view.admin_page(_root(request), days, None))
        since = time.time() - days * 86400
        answers, ratings = store.answers(since), store.feedback(since)
        report = admin_view.Report.of(answers, ratings, days, gaps.groups(answers, ratings), _passages(engine))
        return _html(admin_view.admin_page(_root(request), days, report))

    @router.post(ADMIN_PATH + "/login")
    async def login(request: Request) -> Response:
        if auth is None:
            return _not_found(request)
        body = await request.body()
        form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), keep_blank_values=True)
        if auth.locked():
            return _too_many(request)
        if not auth.token_matches((form.get("token") or [""])[0]):
            auth.wrong()
            return _html(admin_view.sign_in_page(_root(request), "管理權杖不正確，請再試一次。"), 403)
        headers = {"Location": _root(request) + ADMIN_PATH, "Set-Cookie": auth.cookie(request)}
        return Response(status_code=303, headers={**_HEADERS, **headers})

    @router.post(ADMIN_PATH + "/logout")
    def logout(request: Request) -> Response:
        if auth is None:
            return _not_found(request)
        headers = {"Location": _root(request) + ADMIN_PATH, "Set-Cookie": auth.cookie(request, clear=True)}
        return Response(status_code=303, headers={**_HEADERS, **headers})

    exports = {"csv": (export_csv, "text/csv; charset=utf-8"),
               "jsonl": (export_jsonl, "application/x-ndjson; charset=utf-8")}

    @router.get(ADMIN_PATH + "/export.csv")
    @router.get(ADMIN_PATH + "/export.jsonl")
    def export(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        kind = request.url.path.rsplit(".", 1)[1]
        write, media_type = exports[kind]
        return Response(write(_export_rows(_log(request))), media_type=media_type,
                        headers={**_HEADERS, "Content-Disposition": _attachment(kind)})

    @router.api_route(ADMIN_PATH + "/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    def other(request: Request, rest: str) -> Response:
        return _not_found(request)

    return router


class GapsCache:
    """``find_gaps`` over the engine's query encoder, computed again only when the log has changed.

    The page is read far more often than the log grows between two reads; embedding every gap
    question on each load would keep the model busy for nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] = ()
        self._groups: list[GapGroup] = []

    def groups(self, answers: list[LoggedAnswer], ratings: list[Feedback]) -> list[GapGroup]:
        from citeqa.eval.gaps import find_gaps

        key = (len(answers), answers[-1].id if answers else "", answers[0].id if answers else "",
               tuple(sorted((f.answer_id, f.rating, f.at) for f in ratings)))
        with self._lock:
            if key != self._key:
                self._groups = find_gaps(answers, ratings, self.engine.embedder.encode_queries, self._closest,
                                         centre=self._centre(), limit=MAX_GROUPS)
                self._key = key
            return self._groups

    def _centre(self) -> Any:
        """What ``citeqa gaps`` centres on (``cli.gaps``): the mean of the engine's generic questions."""
        from citeqa.qa.decision.background import load_background

        engine = self.engine
        background = engine.answerer.background or load_background(engine.embedder, engine.settings.cache_dir)
        return background.as_queries.mean(axis=0)

    def _closest(self, question: str) -> dict[str, Any] | None:
        hits = self.engine.search(question, 1)
        return hits[0].to_dict() if hits else None


def _passages(engine: Engine) -> Callable[[str], tuple[str, str] | None]:
    """Look up a cited passage id → (label, source), one document's passages read once per page."""
    index = engine.index
    sources = index.source_counts()
    cache: dict[str, dict[str, str]] = {}

    def lookup(passage_id: str) -> tuple[str, str] | None:
        source = passage_id.rsplit("#", 1)[0]
        if source not in sources:
            return None
        if source not in cache:
            cache[source] = {p.id: p.label for p in index.passages_of(source)}
        label = cache[source].get(passage_id)
        return None if label is None else (label, source)

    return lookup


def _log(request: Request) -> QuestionLog | None:
    """The app's question log: its store, or None with ``CITEQA_QUESTION_LOG`` off."""
    return getattr(request.app.state, "question_log", None)


def _export_rows(store: QuestionLog | None) -> list[dict[str, Any]]:
    """Every logged answer with its rating (empty when the log is off), oldest first."""
    if store is None:
        return []
    return export_rows(store.answers(0.0), store.feedback(0.0))


def export_rows(answers: Iterable[LoggedAnswer], ratings: Iterable[Feedback]) -> list[dict[str, Any]]:
    """One dict per logged answer, in ``EXPORT_FIELDS`` order; the time in ISO 8601 (UTC)."""
    latest = latest_ratings(ratings)
    rows = []
    for a in answers:
        f = latest.get(a.id)
        rows.append({
            "id": a.id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(a.at)), "channel": a.channel,
            "question": a.question, "resolved": a.resolved, "outcome": a.outcome, "confidence": a.confidence,
            "cited": list(a.cited), "rating": f.rating if f else None, "comment": f.comment if f else None,
            "rating_changed": bool(f.changed) if f else None,
        })
    return rows


def latest_ratings(ratings: Iterable[Feedback]) -> dict[str, Feedback]:
    """Each answer's rating as it stands (the latest, should a store list a changed one twice)."""
    latest: dict[str, Feedback] = {}
    for f in ratings:
        if f.answer_id not in latest or f.at >= latest[f.answer_id].at:
            latest[f.answer_id] = f
    return latest


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: ``"=1+1"`` → ``"'=1+1"``; lists joined by spaces; None → "".

    >>> [csv_cell(x) for x in ("=SUM(A1)", "+1", "-2", "@x", "台北", None, 0.93, ["a#1", "b#2"])]
    ["'=SUM(A1)", "'+1", "'-2", "'@x", '台北', '', '0.93', 'a#1 b#2']
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number is never a formula, a negative one included
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark (Excel then reads the Chinese right), one header row, formula-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([csv_cell(row[k]) for k in EXPORT_FIELDS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """One JSON object per line, the values as they are (a JSON reader runs no formulas)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _attachment(ext: str) -> str:
    return f'attachment; filename="citeqa-questions-{time.strftime("%Y-%m-%d")}.{ext}"'


def _days(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return DEFAULT_DAYS
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else None


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "") or "")


def _html(body: str, status: int = 200) -> HTMLResponse:
    headers = {**_HEADERS, "Content-Security-Policy": CSP}
    return HTMLResponse(body, status_code=status, headers=headers)


def _not_found(request: Request) -> JSONResponse:
    return JSONResponse({"error": f"no such page or endpoint: {request.method} {request.url.path}"}, status_code=404)


def _cookie_values(request: Request, name: str) -> list[str]:
    """Every value of cookie ``name``, the header split by hand (a neighbour's odd cookie must not hide ours)."""
    found = []
    for part in request.headers.get("cookie", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            found.append(value.strip().strip('"'))
    return found


def _too_many(request: Request) -> Response:
    """429 while sign-in is locked after too many wrong tokens: a page for a browser, else ``{"error"}``."""
    headers = {"Retry-After": "60"}
    if "text/html" in request.headers.get("accept", ""):
        response = _html(admin_view.sign_in_page(_root(request), "錯誤次數過多，請一分鐘後再試。"), 429)
        response.headers.update(headers)
        return response
    return JSONResponse({"error": "too many wrong admin tokens: try again in a minute"}, status_code=429,
                        headers=headers)
