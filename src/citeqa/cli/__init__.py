"""The ``citeqa`` command: parse the flags and dispatch to ``cli.commands``.

Library errors become one line on stderr and exit code 2; nothing here decides library policy.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from citeqa import __version__
from citeqa.cli import commands, gaps
from citeqa.cli.commands import EXIT_USAGE, log_line
from citeqa.errors import CiteqaError
from citeqa.settings import RETRIEVERS, Backend, IndexKind

COMMANDS = ("chunks", "index", "search", "ask", "eval", "gaps", "serve")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
__all__ = ["build_parser", "main"]


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
        log_line(f"citeqa: error: {exc}")  # messages name files: one line whatever the names hold
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
    for add in (_add_document_commands, _add_query_commands, _add_eval_command, _add_gaps_command, _add_serve_command):
        add(sub)
    return p


Subparsers = argparse._SubParsersAction  # argparse names no public type for it


def _add_document_commands(sub: Subparsers) -> None:
    c = sub.add_parser("chunks", help="print the passages of documents (default: the bundled corpus)")
    c.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    c.add_argument("--json", action="store_true", help="print {'passages': [...]} as JSON")
    c.add_argument("--max-chars", type=int, help="split paragraphs longer than this at sentence ends")
    c.set_defaults(func=commands.cmd_chunks)

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
    i.add_argument("--kind", choices=[k.value for k in IndexKind], help="FAISS index (default flat; CITEQA_INDEX_KIND)")
    i.add_argument("--max-chars", type=int, help="split paragraphs longer than this at sentence ends")
    i.add_argument("--quiet", action="store_true", help="no progress bars")
    i.set_defaults(func=commands.cmd_index)


def _add_query_commands(sub: Subparsers) -> None:
    s = sub.add_parser("search", help="retrieve cited passages; QUERY '-' reads one query per line from stdin")
    s.add_argument("query", metavar="QUERY")
    _query_options(s)
    s.add_argument("--retriever", choices=RETRIEVERS, default="hybrid")
    s.add_argument("--source", metavar="GLOB", help="only passages of documents whose source name matches")
    s.set_defaults(func=commands.cmd_search)

    a = sub.add_parser("ask", help="answer a question with cited sources; '-' reads questions from stdin")
    a.add_argument("question", metavar="QUESTION")
    _query_options(a)
    a.set_defaults(func=commands.cmd_ask)


def _add_eval_command(sub: Subparsers) -> None:
    e = sub.add_parser("eval", help="measure retrieval and answers on a known-fact eval set")
    e.add_argument("--set", type=Path, dest="eval_set", help="eval set JSONL (default: the bundled set)")
    e.add_argument("--split", choices=("dev", "test"), help="only this split (default: every question)")
    e.add_argument("--retriever", choices=(*RETRIEVERS, "peer", "all"), default="all")
    _index_options(e)
    e.add_argument("--json", action="store_true", help='print {"questions": N, "retrievers": {...}}')
    e.add_argument("--report", type=Path, metavar="DIR", help="write report.md, report.json, report.png")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--calibrate", action="store_true",
                   help="fit the decision model and its thresholds (on --split, default dev)")
    e.add_argument(
        "--max-false-abstain",
        type=float,
        default=0.03,
        help="calibration cap on wrongly abstained answerable questions",
    )
    e.add_argument(
        "--max-confidently-wrong",
        type=float,
        default=0.10,
        help="calibration cap on answered questions the documents do not answer (the answer threshold)",
    )
    e.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                   help="two saved runs (--json > A.json) side by side, with paired 95%% intervals of B - A")
    e.add_argument("--cv", type=int, default=0, metavar="K",
                   help="with --calibrate: also report K-fold cross-validated figures of the calibration")
    e.add_argument("--draft", type=Path, metavar="FILE",
                   help="draft an eval set for review into FILE from the PATHs (default: the indexed documents)")
    e.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="with --draft: documents to draft from")
    e.add_argument("--force", action="store_true", help="with --draft: replace an existing FILE")
    e.set_defaults(func=commands.cmd_eval)


def _add_gaps_command(sub: Subparsers) -> None:
    g = sub.add_parser(
        "gaps",
        help="questions the documents did not answer, or answers rated down, grouped by meaning",
        description="Group the logged questions answered not_found or uncertain, or rated down, by meaning "
        "(the bundled model's vectors), biggest group first, each with the closest passage the documents "
        "have. Questions are logged only while CITEQA_QUESTION_LOG=on.",
    )
    g.add_argument("--days", type=int, default=gaps.DEFAULT_DAYS, metavar="N",
                   help=f"questions of the last N days (default {gaps.DEFAULT_DAYS})")
    g.add_argument("--limit", type=int, default=gaps.DEFAULT_LIMIT, metavar="N",
                   help=f"the N biggest groups (default {gaps.DEFAULT_LIMIT})")
    g.add_argument("--json", action="store_true",
                   help='print {"groups": [{"count", "questions", "outcomes", "down", "closest"}]}')
    g.add_argument("--export-eval", type=Path, metavar="FILE",
                   help="also write the groups' questions as eval-set rows (kind unanswerable) for review")
    g.add_argument("--force", action="store_true", help="replace an existing --export-eval FILE")
    _index_options(g)
    g.set_defaults(func=gaps.cmd_gaps)


def _add_serve_command(sub: Subparsers) -> None:
    v = sub.add_parser(
        "serve",
        help="start the chat UI, REST API and embed page",
        description=(
            "Serve the Gradio chat at /, the REST API at /api (docs at /docs) and the embedding snippets "
            "at /embed. Environment: CITEQA_ACCESS_TOKEN, CITEQA_ALLOWED_HOSTS, CITEQA_TRUSTED_PROXIES, "
            "CITEQA_CORS_ORIGINS, CITEQA_MAX_BODY_BYTES, CITEQA_QUEUE_SIZE, CITEQA_ENGINE_SLOTS (README: Security)."
        ),
    )
    v.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    v.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    v.add_argument("--root-path", default="", metavar="PREFIX", help="public sub-path behind a reverse proxy (/citeqa)")
    _index_options(v)
    v.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="uvicorn log level (default info)")
    v.set_defaults(func=commands.cmd_serve)


def _index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="index directory (default: the user data dir; CITEQA_INDEX_DIR)")
    p.add_argument("--model", help="sentence-transformers model name or folder (CITEQA_EMBED_MODEL)")
    _backend_options(p)


def _backend_options(p: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--milvus-uri`` (also CITEQA_BACKEND, CITEQA_MILVUS_URI)."""
    p.add_argument(
        "--backend", choices=[b.value for b in Backend], help="where the index lives (default local; CITEQA_BACKEND)"
    )
    p.add_argument("--milvus-uri", metavar="URI",
                   help="Milvus Lite file (./citeqa.db) or server http://host:19530 (CITEQA_MILVUS_URI)")


def _query_options(p: argparse.ArgumentParser) -> None:
    _index_options(p)
    p.add_argument("--top-k", type=int, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines with '-')")


if __name__ == "__main__":
    raise SystemExit(main())
