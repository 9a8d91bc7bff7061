"""``/doc?source=…``: a whole indexed document as one HTML page, each passage an anchor a citation links to.

The page is rendered from the index's passages (``SearchIndex.passages_of``), never from a file on
disk, so it shows exactly the text the answers quote, and only documents that are indexed. Plain
HTML with inline CSS: no script, no request to anywhere. A source card in the chat links to
``doc_url(source, passage_id)``; the cited paragraph is highlighted by ``:target`` (and by the
``passage`` parameter, server-side, should the fragment be lost).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from citeqa.corpus import Passage

if TYPE_CHECKING:
    from citeqa.qa.engine import Engine

__all__ = ["DOC_PATH", "anchor", "build_document_router", "doc_url", "render_document"]

DOC_PATH = "/doc"
MAX_SOURCE_CHARS = 2048  # far above any indexed name (Milvus keeps source keys under ~1,100 bytes)
MAX_PASSAGE_CHARS = 4096  # Milvus's passage id field limit
_SAFE_TAIL = re.compile(r"[0-9A-Za-z][0-9A-Za-z._~-]{0,95}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# No script, no external anything: the page needs its inline style and nothing else.
_HEADERS = {
    "Cache-Control": "no-store",  # a re-index changes the text; never show a stale copy
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
}

_CSS = """
:root { color-scheme: light; }
body { font-family: "Noto Sans CJK TC", "Noto Sans TC", "Microsoft JhengHei", system-ui, sans-serif; margin: 0;
  color: #1f2328; background: #fff; line-height: 1.8; }
.bar { position: sticky; top: 0; z-index: 1; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap;
  padding: 10px 24px; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
.bar h1 { font-size: 1.1rem; margin: 0; flex: 1 1 20rem; }
.bar a { color: #0969da; text-decoration: none; white-space: nowrap; }
.bar .file { color: #57606a; font-size: 0.85rem; overflow-wrap: anywhere; }
main { max-width: 46rem; margin: 0 auto; padding: 8px 24px 48px; }
h2, h3, h4 { line-height: 1.5; margin: 1.8em 0 0.6em; }
h2 { font-size: 1.35rem; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 1.15rem; }
h4 { font-size: 1rem; }
p.passage { margin: 0 0 1em; padding: 4px 8px; border-left: 4px solid transparent; white-space: pre-line;
  scroll-margin-top: 5rem; }
p.passage:target, p.passage.hit { background: #fff8c5; border-left-color: #d4a72c; }
a.self { margin-left: 6px; color: #8c959f; text-decoration: none; font-size: 0.8em; }
.page { margin: 1.5em 0 0.5em; color: #57606a; font-size: 0.8rem; text-align: right;
  border-top: 1px dashed #d0d7de; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
.count { color: #57606a; font-size: 0.85rem; margin-top: 3em; }
"""


def anchor(source: str, passage_id: str) -> str:
    """The HTML id of a passage on its document's page: ASCII, and the same after a re-index of unchanged text.

    ``("mofa-2024-review.zh-TW.txt", "mofa-2024-review.zh-TW.txt#e4ff8e4c-p1")`` → ``"p-e4ff8e4c-p1"``.
    An id of another shape (no ``source#`` prefix, odd characters) becomes ``"ph-"`` and a hash of it.
    """
    tail = passage_id[len(source) + 1 :] if passage_id.startswith(source + "#") else ""
    if _SAFE_TAIL.fullmatch(tail):
        return f"p-{tail}"
    return "ph-" + hashlib.blake2b(passage_id.encode("utf-8"), digest_size=8).hexdigest()


def doc_url(source: str, passage_id: str) -> str:
    """The relative URL of a passage in its document's page, for a link on the chat page ("<root>/").

    ``doc_url("a.md", "a.md#1f2e3d4c-p2")`` → ``"doc?source=a.md&passage=a.md%231f2e3d4c-p2#p-1f2e3d4c-p2"``;
    spaces and other characters are percent-encoded, so the URL can go into ``href`` as it is (escaped).
    """
    query = urlencode({"source": source, "passage": passage_id}, quote_via=quote)
    return f"doc?{query}#{anchor(source, passage_id)}"


class Refusal(Exception):
    """Why a document request is refused: the status, the page's Chinese words and the API's English ones."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.zh, self.en = status, zh, en


@dataclass(frozen=True)
class DocRequest:
    """The validated query of ``/doc``: the source to show and, optionally, the passage to mark."""

    source: str
    passage: str | None


def parse_request(params: Sequence[tuple[str, str]]) -> DocRequest:
    """Validate the query parameters; raise ``Refusal`` (400) for missing, repeated, over-long or control-laden ones."""
    source = _one(params, "source", MAX_SOURCE_CHARS)
    if source is None:
        raise Refusal(
            400,
            "缺少 source 參數：請指定要顯示的文件，例如 doc?source=檔名。",
            "the 'source' parameter is required: doc?source=<indexed document name>",
        )
    return DocRequest(source, _one(params, "passage", MAX_PASSAGE_CHARS))


def _one(params: Sequence[tuple[str, str]], name: str, limit: int) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise Refusal(400, f"{name} 參數只能給一次。", f"give the '{name}' parameter once, not {len(values)} times")
    value = values[0] if values else ""
    if len(value) > limit:
        raise Refusal(
            400,
            f"{name} 參數過長（{len(value):,} 字元，上限 {limit:,}）。",
            f"'{name}' has {len(value):,} characters; the limit is {limit:,}",
        )
    if _CONTROL.search(value):
        raise Refusal(400, f"{name} 參數含有控制字元。", f"'{name}' contains control characters")
    return value if value.strip() else None


def document_title(manifest: Mapping[str, Any], source: str) -> str:
    """The title the index recorded for ``source`` (``manifest["outline"]``), else its file name without extension."""
    outline = manifest.get("outline")
    entry = outline.get(source) if isinstance(outline, dict) else None
    title = entry.get("title") if isinstance(entry, dict) else None
    return title if isinstance(title, str) and title.strip() else source.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def render_document(title: str, source: str, passages: Sequence[Passage], marked: str | None = None) -> str:
    """The page: a top bar, then every passage in order under the headings of its section path.

    A heading is written where the section path changes, from the first level that differs (h2 for
    the top level, h3, then h4 for deeper ones). ``marked`` (a passage id) gets the highlight.
    """
    marked_anchor = anchor(source, marked) if marked else None
    body = _passages_html(source, passages, marked_anchor)
    notice = ""
    if marked_anchor and f'id="{marked_anchor}"' not in body:
        notice = '<p class="notice" role="status">找不到指定的段落（文件可能已重新索引），以下是整份文件。</p>'
    bar = (
        '<header class="bar"><a href="./">← 回到問答</a>'
        f'<h1>{escape(title)}</h1><span class="file">{escape(source)}</span></header>'
    )
    count = f'<p class="count">共 {len(passages):,} 段，取自索引中的「{escape(source)}」。</p>'
    return _html(f"{title}｜citeqa", f"{bar}<main>{notice}{body}{count}</main>")


def _passages_html(source: str, passages: Sequence[Passage], marked_anchor: str | None) -> str:
    parts: list[str] = []
    section: tuple[str, ...] | None = None
    page: int | None = None
    for p in passages:
        if p.page is not None and p.page != page:
            parts.append(f'<div class="page">第 {p.page} 頁</div>')
            page = p.page
        if p.section != section:
            for depth in _new_levels(section or (), p.section):
                level = 2 + min(depth, 2)
                parts.append(f"<h{level}>{escape(p.section[depth])}</h{level}>")
            section = p.section
        pid = anchor(source, p.id)
        hit = " hit" if pid == marked_anchor else ""
        parts.append(
            f'<p id="{pid}" class="passage{hit}">{escape(p.text)}'
            f'<a class="self" href="#{pid}" title="{escape(p.label)}" aria-label="連結到此段">¶</a></p>'
        )
    return "".join(parts)


def _new_levels(previous: tuple[str, ...], current: tuple[str, ...]) -> range:
    """The depths of ``current`` to write as headings: from the first that differs from ``previous``.

    ``("一、", "(一)")`` → ``("一、", "(二)")`` gives ``range(1, 2)``; back up to ``("一、",)`` after
    a sub-section (a repeated heading) rewrites the last one.
    """
    same = 0
    while same < min(len(previous), len(current)) and previous[same] == current[same]:
        same += 1
    if same == len(current) and current:
        same -= 1
    return range(same, len(current))


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _refusal_response(request: Request, refusal: Refusal) -> Response:
    """JSON ``{"error": …}`` to a client that asks for JSON and not HTML; otherwise a Chinese page."""
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse({"error": refusal.en}, status_code=refusal.status)
    body = (
        '<header class="bar"><a href="./">← 回到問答</a><h1>無法顯示文件</h1></header>'
        f'<main><p class="notice" role="alert">{escape(refusal.zh)}</p></main>'
    )
    return HTMLResponse(_html("無法顯示文件｜citeqa", body), status_code=refusal.status, headers=_HEADERS)


def build_document_router(engine: Engine) -> APIRouter:
    """``GET /doc``: the document view over the engine's index (plain HTML, not in the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False)

    @router.api_route(DOC_PATH, methods=["GET", "HEAD"], response_class=HTMLResponse)
    def document(request: Request) -> Response:
        try:
            asked = parse_request(request.query_params.multi_items())
            index = engine.index
            # Only a name the index lists reaches passages_of: the source is never a path or a filter of ours.
            passages = index.passages_of(asked.source) if asked.source in index.source_counts() else []
            if not passages:
                raise Refusal(
                    404, f"索引中沒有名為「{asked.source}」的文件。", f"no indexed document is named {asked.source!r}"
                )
        except Refusal as refusal:
            return _refusal_response(request, refusal)
        title = document_title(index.manifest, asked.source)
        return HTMLResponse(render_document(title, asked.source, passages, asked.passage), headers=_HEADERS)

    @router.api_route(DOC_PATH, methods=["POST", "PUT", "PATCH", "DELETE"])
    def wrong_method() -> JSONResponse:  # else the chat mounted at "/" would answer, with a 404
        message = {"error": "use GET /doc?source=<document>"}
        return JSONResponse(message, status_code=405, headers={"Allow": "GET, HEAD"})

    return router
