"""The admin page as HTML (``ui.pages.admin``): server-rendered, zh-Hant, no script and nothing fetched.

Every piece of logged text (questions, comments, passage labels) goes through ``html.escape``. The one
stylesheet is inline and allowed by its hash in the page's Content-Security-Policy (``CSP``), so the
page needs no ``unsafe-inline`` and works offline. The chart of questions per day is inline SVG: each
day's bar has a ``<title>`` (a tooltip, and what a screen reader reads), and the same numbers follow
in a table.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from citeqa.store.questions import Feedback, LoggedAnswer
from citeqa.ui.pages.admin_style import CSS

if TYPE_CHECKING:
    from citeqa.eval.gaps import GapGroup

HIGH_CONFIDENCE = 0.9  # the chat's 「信心：高」 (ui.chat.render.CONFIDENCE_WORDS)
OUTCOMES = (("answered", "已回答"), ("uncertain", "不確定"), ("not_found", "文件中沒有提到"), ("conversation", "閒聊"))
OUTCOME_WORDS = dict(OUTCOMES)
CHANNEL_WORDS = {"chat": "聊天頁面", "api": "API／問答元件", "cli": "命令列"}
LOG_OFF = "問題紀錄未開啟：請設定 CITEQA_QUESTION_LOG=on"
DAY_CHOICES = (7, 30, 90)
MAX_QUESTIONS_SHOWN = 6  # per gap group; the rest are counted
MAX_DOWN_SHOWN = 200

@dataclass(frozen=True)
class DownRated:
    """An answer rated down, with what it cited: (passage id, label, source) per citation."""

    answer: LoggedAnswer
    rating: Feedback
    cited: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Report:
    """What the page shows for the last ``days`` days."""

    days: int
    total: int
    by_outcome: dict[str, int]
    high: int  # answered or uncertain with confidence >= HIGH_CONFIDENCE (what the chat calls 信心：高)
    rated: int  # questions that could be rated (not conversation)
    ups: int
    downs: int
    per_day: list[tuple[str, dict[str, int]]]  # oldest day first, every day of the window
    groups: Sequence[GapGroup]
    down: list[DownRated]

    @classmethod
    def of(
        cls, answers: Sequence[LoggedAnswer], ratings: Iterable[Feedback], days: int, groups: Sequence[GapGroup],
        passage: Callable[[str], tuple[str, str] | None], now: float | None = None,
    ) -> Report:
        """Count ``answers`` (oldest first) and their ``ratings``; ``passage(id)`` → (label, source) or None."""
        latest: dict[str, Feedback] = {}
        for f in ratings:
            if f.answer_id not in latest or f.at >= latest[f.answer_id].at:
                latest[f.answer_id] = f
        by_id = {a.id: a for a in answers}
        by_outcome = Counter(a.outcome for a in answers)
        questions = [a for a in answers if a.outcome != "conversation"]
        high = sum(1 for a in questions if a.outcome in ("answered", "uncertain")
                   and a.confidence is not None and a.confidence >= HIGH_CONFIDENCE)
        down = []
        for f in sorted(latest.values(), key=lambda f: -f.at):
            a = by_id.get(f.answer_id)
            if f.rating != "down" or a is None:
                continue
            cited = []
            for pid in a.cited:
                found = passage(pid)
                cited.append((pid, *(found or (pid, ""))))
            down.append(DownRated(a, f, tuple(cited)))
        ratings_now = [f for f in latest.values() if f.answer_id in by_id]
        return cls(
            days=days, total=len(answers), by_outcome=dict(by_outcome), high=high, rated=len(questions),
            ups=sum(f.rating == "up" for f in ratings_now), downs=sum(f.rating == "down" for f in ratings_now),
            per_day=per_day(answers, days, now), groups=groups, down=down,
        )


def per_day(answers: Iterable[LoggedAnswer], days: int, now: float | None = None) -> list[tuple[str, dict[str, int]]]:
    """Questions per day (server's local date) by outcome, every day of the window, oldest first."""
    now = time.time() if now is None else now
    keys = [time.strftime("%Y-%m-%d", time.localtime(now - d * 86400)) for d in range(days - 1, -1, -1)]
    table: dict[str, Counter[str]] = {k: Counter() for k in dict.fromkeys(keys)}
    for a in answers:
        day = time.strftime("%Y-%m-%d", time.localtime(a.at))
        if day in table:
            table[day][a.outcome] += 1
    return [(day, dict(c)) for day, c in table.items()]


def _doc(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def sign_in_page(root: str, error: str = "") -> str:
    """The sign-in form: the admin token, posted to ``/admin/login`` (it sets the cookie)."""
    said = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _doc("citeqa 管理：登入", (
        '<main><form class="signin" method="post" action="' + escape(root) + '/admin/login">'
        "<h1>citeqa 管理</h1><p>請輸入管理權杖（CITEQA_ADMIN_TOKEN）。聊天頁面的存取權杖不能用來登入這裡。</p>"
        f'{said}<label for="token">管理權杖</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>'
        '<button type="submit">登入</button></form></main>'
    ))


def admin_page(root: str, days: int, report: Report | None) -> str:
    """The whole page; ``report`` None means the question log is off (said in one sentence)."""
    r = escape(root)
    nav = (
        f'<nav aria-label="管理功能"><a href="{r}/admin/export.csv">匯出 CSV</a>'
        f'<a href="{r}/admin/export.jsonl">匯出 JSONL</a><a href="{r}/">回到問答</a>'
        f'<form class="inline" method="post" action="{r}/admin/logout"><button type="submit">登出</button></form></nav>'
    )
    head = f"<header><h1>citeqa 管理：問題紀錄與回饋</h1>{nav}</header>"
    if report is None:
        return _doc("citeqa 管理", f'{head}<main><p class="off" role="status">{LOG_OFF}</p></main>')
    choices = "".join(
        f'<strong aria-current="page">近 {d} 天</strong>' if d == days
        else f'<a href="{r}/admin?days={d}">近 {d} 天</a>'
        for d in DAY_CHOICES
    )
    custom = "" if days in DAY_CHOICES else f"<strong aria-current=\"page\">近 {days} 天</strong>"
    period = f'<p class="days">期間：{choices}{custom}（依伺服器時間）</p>'
    body = (
        f"{head}<main>{period}{_summary(report)}{_chart(report)}{_gaps(report)}{_down(report, r)}</main>"
    )
    return _doc("citeqa 管理", body)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _summary(rep: Report) -> str:
    outcomes = "".join(
        f'<li><span class="n">{rep.by_outcome.get(k, 0):,}</span><span class="what">{w}</span></li>'
        for k, w in OUTCOMES
    )
    return (
        '<section aria-labelledby="s-sum"><h2 id="s-sum">概況</h2><ul class="cards">'
        f'<li><span class="n">{rep.total:,}</span><span class="what">提問</span></li>{outcomes}'
        f'<li id="high"><span class="n">{_pct(rep.high, rep.rated)}</span><span class="what">高信心回答'
        f"（信心 ≥ {HIGH_CONFIDENCE:.1f}：{rep.high:,} / {rep.rated:,} 題）</span></li>"
        f'<li><span class="n">{rep.ups:,} / {rep.downs:,}</span><span class="what">評為有幫助 / 沒有幫助</span></li>'
        "</ul><p class=\"note\">高信心回答：以「信心：高」回答的問題占全部問題（不含閒聊）的比例。</p></section>"
    )


def _chip(outcome: str, n: int | None = None) -> str:
    word = OUTCOME_WORDS.get(outcome, outcome)
    count = f" {n:,}" if n is not None else ""
    return f'<span class="chip o-{escape(outcome)}">{escape(word)}{count}</span>'


def _chart(rep: Report) -> str:
    """Stacked bars, one per day: inline SVG with a ``<title>`` per bar, and the numbers as a table."""
    width, height, left, bottom, top = 760, 240, 40, 28, 10
    n = len(rep.per_day)
    peak = max((sum(c.values()) for _, c in rep.per_day), default=0)
    scale_max = _round_up(max(peak, 1))
    plot_h = height - bottom - top
    step = (width - left - 8) / max(1, n)
    bar = max(1.0, step * 0.72)
    parts = []
    for i in range(5):  # grid and y labels: 0, ¼, ½, ¾, max
        value = scale_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>')
        label = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    every = max(1, round(n / 8))  # about eight dates under the axis, today's always
    for i, (day, counts) in enumerate(rep.per_day):
        x = left + i * step + (step - bar) / 2
        total = sum(counts.values())
        said = "、".join(f"{w} {counts.get(k, 0)}" for k, w in OUTCOMES if counts.get(k))
        rects, y = [], top + plot_h
        for key, _ in OUTCOMES:
            h = plot_h * counts.get(key, 0) / scale_max
            if h > 0:
                y -= h
                rects.append(f'<rect class="f-{key}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"/>')
        title = f"{day}：{total} 題" + (f"（{said}）" if said else "")
        parts.append(f"<g><title>{escape(title)}</title>{''.join(rects)}"
                     f'<rect x="{left + i * step:.1f}" y="{top}" width="{step:.1f}" height="{plot_h}" '
                     'fill="transparent"/></g>')
        if (n - 1 - i) % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle">{day[5:]}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - 4}" y1="{top + plot_h}" y2="{top + plot_h}"/>')
    legend = "".join(
        f'<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="f-{k}" width="14" height="14" rx="2"/>'
        f"</svg>{w}</li>"
        for k, w in OUTCOMES
    )
    rows = "".join(
        f"<tr><th scope=\"row\">{day}</th>"
        + "".join(f'<td class="num">{c.get(k, 0)}</td>' for k, _ in OUTCOMES)
        + f'<td class="num">{sum(c.values())}</td></tr>'
        for day, c in rep.per_day
    )
    heads = "".join(f'<th scope="col" class="num">{w}</th>' for _, w in OUTCOMES)
    return (
        '<section aria-labelledby="s-day"><h2 id="s-day">每日提問（依結果）</h2>'
        '<div class="scroll latest" role="region" aria-label="每日提問圖" tabindex="0">'
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-t chart-d">'
        f'<title id="chart-t">近 {rep.days} 天每日提問數，依回答結果堆疊</title>'
        f'<desc id="chart-d">共 {rep.total} 題；最多的一天 {peak} 題。每天的數字見下方表格。</desc>'
        f"{''.join(parts)}</svg></div>"
        f'<ul class="legend" aria-label="圖例">{legend}</ul>'
        '<details><summary>以表格檢視每日數字</summary><div class="scroll"><table>'
        f'<caption class="note">每日提問數（依回答結果）</caption><thead><tr><th scope="col">日期</th>{heads}'
        f'<th scope="col" class="num">合計</th></tr></thead><tbody>{rows}</tbody></table></div></details></section>'
    )


def _round_up(peak: int) -> int:
    """A round top for the y axis whose quarter lines are whole numbers: 3 → 4, 7 → 8, 13 → 20, 42 → 60.

    The smallest 4·u at or above ``peak``, u a round number (1, 1.5, 2, 2.5, 3, 5 or 7.5 times a power of ten).
    """
    base = 1
    while True:
        for m in (1, 1.5, 2, 2.5, 3, 5, 7.5):
            unit = m * base
            if unit == int(unit) and 4 * unit >= peak:
                return int(4 * unit)
        base *= 10


def _gaps(rep: Report) -> str:
    intro = ('<p class="note">文件沒有回答（文件中沒有提到、不確定）或被評為沒有幫助的問題，依意思分組，'
             "題數多的在前：每一組是一個文件可能該補上的主題。</p>")
    if not rep.groups:
        return (f'<section aria-labelledby="s-gap"><h2 id="s-gap">文件沒有回答的問題</h2>{intro}'
                "<p>這段期間沒有。</p></section>")
    rows = []
    for g in rep.groups:
        shown = "".join(f"<li>{escape(q)}</li>" for q in g.questions[:MAX_QUESTIONS_SHOWN])
        more = len(g.questions) - MAX_QUESTIONS_SHOWN
        extra = f'<p class="more">另有 {more} 種問法</p>' if more > 0 else ""
        mix = "".join(_chip(o, c) for o, c in g.outcomes)
        c = g.closest
        near = (f"<strong>{escape(c.label)}</strong><div class=\"meta\">{escape(c.source)} · 相似度 {c.score:.2f}</div>"
                f'<div class="excerpt">{escape(c.text)}</div>') if c is not None else '<span class="more">—</span>'
        rows.append(f'<tr><td class="num">{g.count:,}</td><td><ul class="qs">{shown}</ul>{extra}</td>'
                    f'<td>{mix}</td><td class="num">{g.down:,}</td><td>{near}</td></tr>')
    return (
        f'<section aria-labelledby="s-gap"><h2 id="s-gap">文件沒有回答的問題（{len(rep.groups)} 組）</h2>{intro}'
        '<div class="scroll" role="region" aria-label="文件沒有回答的問題" tabindex="0"><table id="gaps" class="wide">'
        '<thead><tr><th scope="col" class="num">次數</th><th scope="col">問題</th>'
        '<th scope="col">回答結果</th><th scope="col" class="num">沒有幫助</th>'
        '<th scope="col">文件中最接近的段落</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _down(rep: Report, root: str) -> str:
    from citeqa.ui.pages.document import doc_url

    title = f"被評為沒有幫助的回答（{len(rep.down)}）"
    if not rep.down:
        return f'<section aria-labelledby="s-down"><h2 id="s-down">{title}</h2><p>這段期間沒有。</p></section>'
    rows = []
    for d in rep.down[:MAX_DOWN_SHOWN]:
        a = d.answer
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.at))
        resolved = f'<div class="meta">理解為：{escape(a.resolved)}</div>' if a.resolved else ""
        scored = a.confidence is not None and a.outcome in ("answered", "uncertain")  # as the chat shows it
        conf = f'<div class="meta">信心 {a.confidence:.2f}</div>' if scored else ""
        comment = (f'<div class="comment">{escape(d.rating.comment)}</div>' if d.rating.comment
                   else '<span class="more">（沒有留言）</span>')
        sources = "".join(
            f'<li><a href="{root}/{escape(doc_url(source, pid))}">{escape(label)}</a>'
            f'<div class="meta">{escape(source)}</div></li>' if source else f"<li>{escape(pid)}</li>"
            for pid, label, source in d.cited
        ) or "<li>（沒有引用）</li>"
        rows.append(
            f'<tr><td class="meta">{when}<div>{escape(CHANNEL_WORDS.get(a.channel, a.channel))}</div></td>'
            f"<td>{escape(a.question)}{resolved}</td><td>{_chip(a.outcome)}{conf}</td><td>{comment}</td>"
            f'<td><ul class="qs">{sources}</ul></td></tr>'
        )
    more = len(rep.down) - MAX_DOWN_SHOWN
    tail = f'<p class="more">另有 {more} 則，請用匯出檔查看。</p>' if more > 0 else ""
    return (
        f'<section aria-labelledby="s-down"><h2 id="s-down">{title}</h2>'
        '<div class="scroll" role="region" aria-label="被評為沒有幫助的回答" tabindex="0">'
        '<table id="down" class="wide">'
        '<thead><tr><th scope="col">時間</th><th scope="col">問題</th><th scope="col">結果</th>'
        '<th scope="col">意見</th>'
        f"<th scope=\"col\">引用的來源</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>{tail}</section>"
    )
