"""``citeqa gaps``: what people asked that the documents do not answer, grouped by meaning.

Reads the question log (``CITEQA_QUESTION_LOG=on``) of the data directory, groups the answers that
came back ``not_found`` or ``uncertain`` or were rated down (``eval.gaps``), and prints a table,
JSON, or eval-set rows for a person to review. With the log off nothing is opened, loaded or written.
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citeqa.cli.commands import log_line, one_line, open_engine, settings_from
from citeqa.errors import InputError

if TYPE_CHECKING:
    from citeqa.eval.gaps import GapGroup
    from citeqa.qa.engine import Engine
    from citeqa.settings import Settings
    from citeqa.store import Store

DEFAULT_DAYS = 30  # a month of questions: enough to see what recurs, recent enough to still matter
MAX_DAYS = 36_500
DEFAULT_LIMIT = 50  # groups shown; the closest passage is looked up for these only
EXPORT_SPLIT = "test"  # exported rows are only reported until a person moves them to dev (eval.dataset)
VECTOR_CACHE = "gaps-vectors"  # <data_dir>/gaps-vectors/<model>.npz: beside the log it is derived from
LOG_NOTE = "the question log is off: set CITEQA_QUESTION_LOG=on to record questions for citeqa gaps"


def check_days(days: int) -> int:
    """``--days``: a whole number of days from 1 to 36,500 (``InputError`` otherwise)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days must be a whole number from 1 to {MAX_DAYS:,}, got {days!r}")
    return days


def open_log(settings: Settings) -> Store | None:
    """The store holding the question log, or None when ``CITEQA_QUESTION_LOG`` is off (nothing is opened).

    Opening it prunes the log past ``CITEQA_QUESTION_LOG_DAYS``, as every reader of the log does.
    """
    if not settings.question_log:
        return None
    from citeqa.store import open_question_log

    return open_question_log(settings.data_dir, settings.question_log_days)


def cmd_gaps(args: argparse.Namespace) -> int:
    """``citeqa gaps``: groups of unanswered and down-rated questions, biggest first."""
    days = check_days(args.days)
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    export: Path | None = args.export_eval
    if export is not None and export.exists() and not args.force:
        raise InputError(f"{export} exists: choose another file or pass --force to replace it")
    settings = settings_from(args)
    log = open_log(settings)
    if log is None:
        return _show([], args, LOG_NOTE)
    try:
        since = time.time() - days * 86_400
        answers, feedback = log.answers(since), log.feedback(since)
    finally:
        log.close()
    from citeqa.eval.gaps import gap_answers

    if not gap_answers(answers, feedback)[0]:  # nothing to group: no model to load
        note = (f"no question was answered not_found or uncertain, or rated down, in the last {days} days "
                "(questions are recorded while CITEQA_QUESTION_LOG=on)")
        return _show([], args, note)
    engine = open_engine(args)
    groups = _groups(engine, settings, answers, feedback, args.limit)
    if export is not None:
        log_line(f"wrote {export_eval(groups, export)} rows to {export}")
    return _show(groups, args, None)


def _groups(engine: Engine, settings: Settings, answers: list[Any], feedback: list[Any], limit: int) -> list[GapGroup]:
    import hashlib

    from citeqa.eval.gaps import find_gaps
    from citeqa.qa.decision.background import load_background

    background = engine.answerer.background or load_background(engine.embedder, settings.cache_dir)
    model = hashlib.sha256(f"{engine.embedder.name}\0{engine.embedder.fingerprint}".encode()).hexdigest()[:16]

    def closest(question: str) -> dict[str, Any] | None:
        hits = engine.search(question, 1)
        return hits[0].to_dict() if hits else None

    return find_gaps(
        answers, feedback, engine.embedder.encode_queries, closest,
        centre=background.as_queries.mean(axis=0), limit=limit,
        cache=Path(settings.data_dir) / VECTOR_CACHE / f"{model}.npz",
    )


def export_eval(groups: list[GapGroup], path: Path, today: date | None = None) -> int:
    """Write every group's questions as eval-set rows (``load_eval_set`` reads them); how many rows.

    Each row: id ``log-YYYYMMDD-gGGG-NN`` (group, question), kind ``unanswerable`` with empty evidence
    and answers, split ``test``, batch ``log-YYYY-MM-DD``. A person reviews them: a down-rated
    question the documents do answer becomes a fact row with its evidence, or is deleted.
    """
    from citeqa.files import write_atomic

    day = today or date.today()
    rows = [
        {"id": f"log-{day:%Y%m%d}-g{g:03d}-{n:02d}", "question": q, "kind": "unanswerable", "split": EXPORT_SPLIT,
         "evidence": [], "answers": [], "batch": f"log-{day.isoformat()}"}
        for g, group in enumerate(groups, start=1)
        for n, q in enumerate(group.questions, start=1)
    ]
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def _show(groups: list[GapGroup], args: argparse.Namespace, note: str | None) -> int:
    if note is not None:
        log_line(f"citeqa gaps: {note}")
        if args.export_eval is not None:
            log_line("citeqa gaps: nothing to export")
    if args.json:
        print(json.dumps({"groups": [g.to_dict() for g in groups]}, ensure_ascii=False))
    elif groups:
        print_table(groups)
    return 0


def print_table(groups: list[GapGroup]) -> None:
    """One row per group: size, down, outcome mix, its questions (cut to fit), the closest passage."""
    head = ("#", "count", "down", "outcomes", "questions", "closest passage")
    rows = []
    for n, g in enumerate(groups, start=1):
        outcomes = ", ".join(f"{k} {v}" for k, v in g.outcomes)
        more = f" (+{len(g.questions) - 1})" if len(g.questions) > 1 else ""
        closest = "—" if g.closest is None else f"{g.closest.label} ({g.closest.score:.2f})"
        rows.append((str(n), str(g.count), str(g.down), outcomes, fit(one_line(g.questions[0]), 40) + more,
                     fit(one_line(closest), 36)))
    widths = [max(width(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for r in (head, *rows):
        print("  ".join(pad(cell, w, right=i in (1, 2)) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
              .rstrip())


def width(text: str) -> int:
    """Terminal cells: wide and full-width characters (CJK) take two: ``width("台北101")`` → 7."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def fit(text: str, cells: int) -> str:
    """``text`` cut to at most ``cells`` terminal cells, with … where it was cut."""
    if width(text) <= cells:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > cells - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, cells: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``cells`` terminal cells (on the left with ``right``)."""
    gap = " " * max(0, cells - width(text))
    return gap + text if right else text + gap
