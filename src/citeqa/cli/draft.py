"""``citeqa eval --draft FILE [PATH…]``: draft an eval set from documents for a person to review.

With PATHs the documents are read as ``citeqa index`` reads them; without, the indexed documents are
read again from where the index found them (``Engine.documents``), which loads the index like any
other command. The file is written whole or not at all, and an existing one is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from citeqa.cli.commands import log_line, open_engine, settings_from
from citeqa.errors import InputError


def cmd_draft(args: argparse.Namespace) -> int:
    """Write the drafted rows to ``args.draft`` and say how many of each kind it holds."""
    from citeqa.corpus import CorpusSettings, load_corpus, passages_of
    from citeqa.eval.draft import draft_eval_set, draft_jsonl
    from citeqa.files import write_atomic

    if args.draft is None:
        raise InputError("PATH arguments of `citeqa eval` are read only with --draft FILE")
    out = _check_target(args.draft, force=args.force)
    if args.paths:
        corpus = load_corpus(args.paths, CorpusSettings.of(settings_from(args)))
        for s in corpus.skipped:
            log_line(f"citeqa: skipped {s.reason}")
        documents, passages = list(corpus.documents), list(corpus.passages)
    else:
        engine = open_engine(args)
        documents = engine.documents()
        passages = [p for d in documents for p in passages_of(d, CorpusSettings.of(engine.settings))]
    today = date.today()
    rows = draft_eval_set(passages, documents, day=today)
    if not rows:
        raise InputError(f"no sentence of the {len(documents)} document(s) gave a question: nothing written")
    write_atomic(out, draft_jsonl(rows, day=today, documents=len(documents)))
    misses = sum(1 for r in rows if not r.evidence)
    log_line(
        f"wrote {out}: {len(rows) - misses} questions with evidence and {misses} near misses from "
        f"{len(documents)} document(s); a draft: review every row before quoting figures from it"
    )
    return 0


def _check_target(path: Path, *, force: bool) -> Path:
    """Refuse to replace a file without ``--force``, and a target that is a folder or has no folder."""
    if path.is_dir():
        raise InputError(f"{path} is a folder: name the file to write")
    if path.exists() and not force:
        raise InputError(f"{path} exists: pass --force to replace it")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such folder")
    return path
