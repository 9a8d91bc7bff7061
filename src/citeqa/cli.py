"""The ``citeqa`` command. Library errors become one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from citeqa import __version__
from citeqa.errors import CiteqaError

EXIT_USAGE = 2
COMMANDS = ("chunks", "index", "search", "ask", "eval", "serve")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``citeqa`` command and return its exit code (2 for a library error, 130 on Ctrl-C)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported before a missing COMMAND: "--bogus" is the mistake, not the missing command
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.error(f"choose a COMMAND: {', '.join(COMMANDS)} (citeqa COMMAND --help for each)")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a full disk or a closed pipe is reported like any error
        return code
    except CiteqaError as exc:
        print(f"citeqa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("citeqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        _silence_stdout()
        print(f"citeqa: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what could not be written stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand; each sets ``func`` to the handler it runs."""
    p = argparse.ArgumentParser(prog="citeqa", description="Cited question answering over Chinese documents.")
    p.add_argument("--version", action="version", version=f"citeqa {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("chunks", help="print the passages of documents (default: the bundled corpus)")
    c.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    c.add_argument("--json", action="store_true", help="print {'passages': [...]} as JSON")
    c.add_argument("--max-chars", type=int, help="split paragraphs longer than this at sentence ends")
    c.set_defaults(func=cmd_chunks)

    i = sub.add_parser(
        "index",
        help="index documents: files and folders of .txt .md .pdf .docx (default: the bundled corpus)",
        description="Index documents. Re-running it on the same paths embeds only added or changed files; "
        "with no PATH it updates the index from the paths it was built from.",
    )
    i.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    _index_options(i)
    i.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="only files whose path inside a folder given matches (repeatable)")
    i.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip files whose path inside a folder given matches (repeatable)")
    i.add_argument("--full", action="store_true",
                   help="embed every file again, even unchanged ones (Milvus: drop and recreate the collections)")
    i.add_argument("--kind", choices=("flat", "hnsw", "ivf"), help="FAISS index type (default flat)")
    i.add_argument("--max-chars", type=int, help="split paragraphs longer than this at sentence ends")
    i.add_argument("--quiet", action="store_true", help="no progress bars")
    i.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="retrieve cited passages; QUERY '-' reads one query per line from stdin")
    s.add_argument("query", metavar="QUERY")
    _query_options(s)
    s.add_argument("--retriever", choices=("hybrid", "dense", "bm25"), default="hybrid")
    s.add_argument("--source", metavar="GLOB", help="only passages of documents whose source name matches")
    s.set_defaults(func=cmd_search)

    a = sub.add_parser("ask", help="answer a question with cited sources; '-' reads questions from stdin")
    a.add_argument("question", metavar="QUESTION")
    _query_options(a)
    a.set_defaults(func=cmd_ask)

    e = sub.add_parser("eval", help="measure retrieval and answers on a known-fact eval set")
    e.add_argument("--set", type=Path, dest="eval_set", help="eval set JSONL (default: the bundled set)")
    e.add_argument("--split", choices=("dev", "test"), help="only this split (default: every question)")
    e.add_argument("--retriever", choices=("bm25", "dense", "hybrid", "peer", "all"), default="all")
    _index_options(e)
    e.add_argument("--json", action="store_true", help='print {"questions": N, "retrievers": {...}}')
    e.add_argument("--report", type=Path, metavar="DIR", help="write report.md, report.json, report.png")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--calibrate", action="store_true", help="fit the abstention threshold (on --split, default dev)")
    e.add_argument(
        "--max-false-abstain",
        type=float,
        default=0.03,
        help="calibration cap on wrongly abstained answerable questions",
    )
    e.set_defaults(func=cmd_eval)

    from citeqa.ui.command import add_serve_command  # light: imports gradio only when run

    add_serve_command(sub)
    return p


def _index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="index directory (default: the user data dir; CITEQA_INDEX_DIR)")
    p.add_argument("--model", help="sentence-transformers model name or folder (CITEQA_EMBED_MODEL)")
    backend_options(p)


def backend_options(p: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--milvus-uri`` (also CITEQA_BACKEND, CITEQA_MILVUS_URI)."""
    p.add_argument(
        "--backend", choices=("local", "milvus"), help="where the index lives (default local; CITEQA_BACKEND)"
    )
    p.add_argument("--milvus-uri", metavar="URI",
                   help="Milvus Lite file (./citeqa.db) or server http://host:19530 (CITEQA_MILVUS_URI)")


def _query_options(p: argparse.ArgumentParser) -> None:
    _index_options(p)
    p.add_argument("--top-k", type=int, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines with '-')")


def settings_from(args: argparse.Namespace) -> Any:
    """Settings from the environment with this command's flags on top."""
    from citeqa.settings import Settings

    return Settings.from_env(
        embed_model=getattr(args, "model", None),
        max_chars=getattr(args, "max_chars", None),
        index_kind=getattr(args, "kind", None),
        backend=getattr(args, "backend", None),
        milvus_uri=getattr(args, "milvus_uri", None),
    )


def open_engine(args: argparse.Namespace) -> Any:
    """Load the index and model named by the flags; imported lazily so ``--help`` stays fast."""
    from citeqa.qa.engine import Engine

    return Engine.open(settings_from(args), index_dir=args.index)


def cmd_chunks(args: argparse.Namespace) -> int:
    """``citeqa chunks``: print the passages the documents split into, without building an index."""
    from citeqa.corpus import load_corpus
    from citeqa.index.update import corpus_settings

    corpus = load_corpus(args.paths or None, corpus_settings(settings_from(args)))
    _report_skipped(corpus.skipped)
    if args.json:
        _print_json({"passages": [p.to_dict() for p in corpus.passages]}, indent=1)
        return 0
    for p in corpus.passages:
        print(f"[{p.id}] {p.label}  ({p.source} {p.start}-{p.end})")
        print(f"  {p.text}\n")
    print(f"{len(corpus.passages)} passages from {len(corpus.documents)} document(s)", file=sys.stderr)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    """``citeqa index``: build or update the index; with no PATH, reuse the paths and globs it was built from."""
    from citeqa.index.update import update_index

    update_index(
        settings_from(args), args.paths, include=args.include, exclude=args.exclude, index_dir=args.index,
        full=args.full, progress=not args.quiet,
    )
    return 0


def _precheck(text: str) -> None:
    """Refuse a bad single question before spending seconds on loading the model."""
    if text != "-":
        from citeqa.qa.engine import clean_query

        clean_query(text, settings_from(argparse.Namespace()).max_question_chars)


def cmd_search(args: argparse.Namespace) -> int:
    """``citeqa search``: print the cited passages retrieved for a query (or for each stdin line)."""
    _precheck(args.query)
    engine = open_engine(args)

    def one(query: str) -> dict[str, Any]:
        hits = engine.search(query, args.top_k, args.retriever, source=args.source)
        return {"query": query, "hits": [h.to_dict() for h in hits]}

    return _run_queries(args.query, args.json, one, _print_hits, key="query")


def cmd_ask(args: argparse.Namespace) -> int:
    """``citeqa ask``: print a cited answer to a question (or to each stdin line)."""
    _precheck(args.question)
    engine = open_engine(args)

    def one(question: str) -> dict[str, Any]:
        return dict(engine.ask(question, args.top_k).to_dict())

    return _run_queries(args.question, args.json, one, _print_answer, key="question")


def cmd_eval(args: argparse.Namespace) -> int:
    """``citeqa eval``: score the retrievers on the eval set, or fit the abstention threshold with ``--calibrate``."""
    from citeqa.eval.dataset import load_eval_set
    from citeqa.eval.peer import PeerBM25
    from citeqa.eval.report import markdown, write_report
    from citeqa.eval.run import RETRIEVER_NAMES, run_eval

    if args.calibrate:
        return _calibrate(args)
    questions = load_eval_set(args.eval_set, args.split)
    engine = open_engine(args)
    names = RETRIEVER_NAMES if args.retriever == "all" else (args.retriever,)
    peer = PeerBM25.from_documents(list(engine.documents())).search if "peer" in names else None
    reports = run_eval(engine, questions, names, peer_search=peer, progress=not args.quiet)
    summary = {
        "questions": len(questions),
        "split": args.split,
        "model": engine.embedder.name,
        "retrievers": {n: r.metrics() for n, r in reports.items()},
    }
    if args.report:
        for path in write_report(summary, args.report):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        _print_json(summary)
    else:
        print(markdown(summary))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from citeqa.eval.calibrate import calibrate, collect
    from citeqa.eval.dataset import load_eval_set

    split = args.split or "dev"
    questions = load_eval_set(args.eval_set, split)
    result = calibrate(collect(open_engine(args), questions), args.max_false_abstain)
    out = {"split": split, **asdict(result)}
    if args.json:
        _print_json(out)
    else:
        s = result.settings
        print(f"calibrated on {split}: {result.answerable} answerable, {result.unanswerable} unanswerable questions")
        print(f"abstains on {result.abstain_recall:.1%} of unanswerable, wrongly on {result.false_abstain_rate:.1%}")
        print(
            f"threshold {s.threshold}  coverage weight {s.w_coverage}  type penalty {s.type_penalty}  "
            f"slot slack {s.slot_slack}  cross-lingual bonus {s.cross_lingual_bonus}"
        )
    return 0


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
                print(f"citeqa: error: {exc}", file=sys.stderr)
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
        print(f"{n}. {h['label']}  [{h['source']}]  score {h['score']:.4f}")
        print(f"   {h['text']}\n")
    if not result["hits"]:
        print("no matching passages")


def _print_answer(result: dict[str, Any]) -> None:
    print(result["answer"])
    if result["citations"]:
        print()
    for n, h in enumerate(result["citations"], start=1):
        quote = h["text"][h.get("quote_start", 0) : h.get("quote_end", len(h["text"]))]
        print(f"[{n}] {h['label']} — {quote}")


def _report_skipped(skipped: Sequence[Any]) -> None:
    for s in skipped:
        print(f"citeqa: skipped {s.reason}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
