"""The handlers of the ``citeqa`` subcommands: each turns parsed flags into one library call and prints.

Imports are lazy so that ``citeqa --help`` and ``citeqa chunks`` load no model and no web stack.
Plain text that holds file names or document text is printed through ``one_line``; JSON is not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from citeqa.errors import CiteqaError, InputError

if TYPE_CHECKING:
    from citeqa.qa.engine import Engine
    from citeqa.settings import Settings
    from citeqa.store import Store
    from citeqa.store.recorder import Recorder

EXIT_USAGE = 2
# C0 and C1 controls (newline, tab, CR, ESC, NEL, …) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: object) -> str:
    r"""``text`` with each control character written as its Python escape, so one record stays on one line.

    File names and documents may hold them: a name ``new⏎line.txt`` would split a record in two (and
    an ESC would drive the terminal); it prints as ``new\nline.txt``. JSON output escapes them itself.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def log_line(message: str) -> None:
    """The library's progress log as the CLI prints it: one line on stderr (messages name files)."""
    print(one_line(message), file=sys.stderr, flush=True)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment with this command's flags on top."""
    from citeqa.settings import Settings

    return Settings.from_env(
        embed_model=getattr(args, "model", None),
        max_chars=getattr(args, "max_chars", None),
        index_kind=getattr(args, "kind", None),
        backend=getattr(args, "backend", None),
        milvus_uri=getattr(args, "milvus_uri", None),
    )


def open_engine(args: argparse.Namespace) -> Engine:
    """Load the index and model named by the flags; imported lazily so ``--help`` stays fast."""
    from citeqa.qa.engine import Engine

    return Engine.open(settings_from(args), index_dir=args.index, log=log_line)


def cmd_chunks(args: argparse.Namespace) -> int:
    """``citeqa chunks``: print the passages the documents split into, without building an index."""
    from citeqa.corpus import CorpusSettings, load_corpus

    corpus = load_corpus(args.paths or None, CorpusSettings.of(settings_from(args)))
    _report_skipped(corpus.skipped)
    if args.json:
        _print_json({"passages": [p.to_dict() for p in corpus.passages]}, indent=1)
        return 0
    for p in corpus.passages:
        print(one_line(f"[{p.id}] {p.label}  ({p.source} {p.start}-{p.end})"))
        print(f"  {one_line(p.text)}\n")
    print(f"{len(corpus.passages)} passages from {len(corpus.documents)} document(s)", file=sys.stderr)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    """``citeqa index``: build or update the index; with no PATH, reuse the paths and globs it was built from."""
    from citeqa.index.update import update_index

    update_index(
        settings_from(args), args.paths, include=args.include, exclude=args.exclude, index_dir=args.index,
        full=args.full, progress=not args.quiet, log=log_line,
    )
    return 0


def _precheck(text: str, args: argparse.Namespace) -> None:
    """Refuse a bad single question or top-k before spending seconds on loading the model."""
    from citeqa.qa.query import check_top_k, clean_query

    if args.top_k is not None:
        check_top_k(args.top_k)
    if text != "-":
        clean_query(text, settings_from(args).max_question_chars, "query" if "query" in args else "question")


def cmd_search(args: argparse.Namespace) -> int:
    """``citeqa search``: print the cited passages retrieved for a query (or for each stdin line)."""
    _precheck(args.query, args)
    engine = open_engine(args)

    def one(query: str) -> dict[str, Any]:
        hits = engine.search(query, args.top_k, args.retriever, source=args.source)
        return {"query": query, "hits": [h.to_dict() for h in hits]}

    return _run_queries(args.query, args.json, one, _print_hits, key="query")


def cmd_ask(args: argparse.Namespace) -> int:
    """``citeqa ask``: print a cited answer to a question (or to each stdin line).

    With ``CITEQA_QUESTION_LOG=on`` each answer is logged (channel "cli") in the data directory's
    store; a store that cannot be opened or written is said on stderr and the answers still printed.
    """
    _precheck(args.question, args)
    engine = open_engine(args)
    recorder, store = _question_log(engine.settings)

    def one(question: str) -> dict[str, Any]:
        answer = engine.ask(question, args.top_k)
        recorder(answer)
        return answer.to_dict()

    try:
        return _run_queries(args.question, args.json, one, _print_answer, key="question")
    finally:
        if store is not None:
            store.close()


def _question_log(settings: Settings) -> tuple[Recorder, Store | None]:
    """The CLI's recorder: logging into ``settings.data_dir`` when the log is on, else writing nothing."""
    from citeqa.store import StoreError, open_question_log
    from citeqa.store.recorder import Recorder

    if not settings.question_log:
        return Recorder(None, "cli", warn=log_line), None
    try:
        store = open_question_log(settings.data_dir, settings.question_log_days)
    except StoreError as exc:
        log_line(f"citeqa: the question log cannot be opened, so nothing is logged: {exc}")
        return Recorder(None, "cli", warn=log_line), None
    return Recorder(store, "cli", warn=log_line), store


def cmd_eval(args: argparse.Namespace) -> int:
    """``citeqa eval``: score the retrievers on the eval set, or fit the abstention threshold with ``--calibrate``."""
    from citeqa.eval.dataset import load_eval_set
    from citeqa.eval.peer import PeerBM25
    from citeqa.eval.report import markdown, write_report
    from citeqa.eval.run import RETRIEVER_NAMES, run_eval

    if args.draft or args.paths:  # cli.draft: drafting an eval set measures nothing
        from citeqa.cli.draft import cmd_draft
        return cmd_draft(args)
    if args.calibrate:
        return _calibrate(args)
    if args.compare:
        from citeqa.cli.compare import cmd_compare

        return cmd_compare(args)
    questions = load_eval_set(args.eval_set, args.split)
    engine = open_engine(args)
    names = RETRIEVER_NAMES if args.retriever == "all" else (args.retriever,)
    peer = PeerBM25.from_documents(list(engine.documents())) if "peer" in names else None
    reports = run_eval(engine, questions, names, peer_search=peer.search if peer else None,
                       peer_texts=peer.paragraphs if peer else None, progress=not args.quiet)
    summary = {
        "questions": len(questions),
        "split": args.split,
        "model": engine.embedder.name,
        "retrievers": {n: r.metrics() for n, r in reports.items()},
    }
    if args.report:
        for path in write_report(summary, args.report):
            log_line(f"wrote {path}")
    if args.json:
        _print_json(summary)
    else:
        print(markdown(summary))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from citeqa.eval.calibrate import calibrate, collect, cross_validate
    from citeqa.eval.dataset import load_eval_set

    split = args.split or "dev"
    questions = load_eval_set(args.eval_set, split)
    samples = collect(open_engine(args), questions)
    caps = {"max_false_abstain": args.max_false_abstain, "max_confidently_wrong": args.max_confidently_wrong}
    result = calibrate(samples, **caps)
    out = {"split": split, **asdict(result), "model": result.weights()}
    if args.cv:
        if args.cv < 2:
            raise InputError("--cv needs at least 2 folds")
        out["cross_validated"] = cross_validate(samples, args.cv, **caps)
    if args.json:
        _print_json(out)
    else:
        print(f"calibrated on {split}: {result.answerable} answerable, {result.unanswerable} other questions")
        print(
            f"declines {result.abstain_recall:.1%} of near misses, {_pct(result.offtopic_declined)} of off-topic; "
            f"recognises {_pct(result.conversation_recognised)} of conversation turns; "
            f"wrongly declines {result.false_abstain_rate:.1%} of answerable; "
            f"answers {result.confidently_wrong:.1%} of the questions the documents do not answer and "
            f"{result.answered_right:.1%} of answerable ones right (the rest between the thresholds: uncertain)"
        )
        print("settings:", ", ".join(f"{k}={v}" for k, v in asdict(result.settings).items()))
        print(f"model (log-odds per unit, L2 penalty {result.penalty}):",
              ", ".join(f"{k} {v:+.3f}" for k, v in result.weights().items()))
        if args.cv:
            figures = out["cross_validated"].items()
            print(f"{args.cv}-fold cross-validated:", ", ".join(f"{k} {v:.1%}" for k, v in figures))
    return 0


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _run_queries(
    text: str,
    as_json: bool,
    one: Callable[[str], dict[str, Any]],
    show: Callable[[dict[str, Any]], None],
    *,
    key: str,
) -> int:
    """One query, or with '-' one per stdin line: JSON Lines in order; a bad line gets an error object."""
    if text != "-":
        result = one(text)
        _print_json(result) if as_json else show(result)
        return 0
    failed = 0
    for line in _stdin_lines():
        try:
            result = one(line)
        except CiteqaError as exc:
            failed += 1
            result = {key: line, "error": str(exc)}
            if not as_json:
                log_line(f"citeqa: error: {exc}")
                continue
        _print_json(result) if as_json else show(result)
        sys.stdout.flush()
    return EXIT_USAGE if failed else 0


def _stdin_lines() -> Iterator[str]:
    if sys.stdin is None:  # started with stdin closed (`<&-`): no questions
        return
    for raw in sys.stdin:
        yield raw.rstrip("\r\n")


def _print_json(obj: Any, indent: int | None = None) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=indent))


def _print_hits(result: dict[str, Any]) -> None:
    for n, h in enumerate(result["hits"], start=1):
        print(one_line(f"{n}. {h['label']}  [{h['source']}]  score {h['score']:.4f}"))
        print(f"   {one_line(h['text'])}\n")
    if not result["hits"]:
        print("no matching passages")


def _print_answer(result: dict[str, Any]) -> None:
    print(one_line(result["answer"]))
    if result["outcome"] in ("answered", "uncertain") and result.get("confidence") is not None:
        print(f"({result['outcome']}, confidence {result['confidence']:.2f})")
    if result["citations"]:
        print()
    for n, h in enumerate(result["citations"], start=1):
        quote = h["text"][h.get("quote_start", 0) : h.get("quote_end", len(h["text"]))]
        print(one_line(f"[{n}] {h['label']} — {quote}"))


def _report_skipped(skipped: Sequence[Any]) -> None:
    for s in skipped:
        log_line(f"citeqa: skipped {s.reason}")


def cmd_serve(args: argparse.Namespace) -> int:
    """``citeqa serve``: the chat, the REST API and the embed page on one port."""
    from citeqa.ui.server.config import ServeSettings
    from citeqa.ui.server.serve import serve

    web = ServeSettings.from_env(host=args.host, port=args.port, root_path=args.root_path)
    return serve(settings_from(args), web, index_dir=args.index, log_level=args.log_level)
