"""``citeqa eval --compare A.json B.json``: two saved runs side by side, with paired bootstrap intervals.

Each run is the ``--json`` output of ``citeqa eval`` (it keeps every question's result). For every
retriever both runs hold, and every slice (all questions, each kind, each batch), each figure is
shown for A and B over the questions both runs share, with B − A and its paired 95 % interval; a
``*`` marks an interval that excludes zero. Questions are matched by id, so runs of two eval-set
versions compare on what they have in common (the count is printed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from citeqa.cli.commands import _print_json
from citeqa.errors import InputError


def cmd_compare(args: argparse.Namespace) -> int:
    """Load both runs, compare them, print a table (or ``--json``)."""
    from citeqa.eval.run import QuestionResult

    a, b = (_load(p) for p in args.compare)
    out: dict[str, Any] = {"a": str(args.compare[0]), "b": str(args.compare[1]), "retrievers": {}}
    for name in (n for n in a["retrievers"] if n in b["retrievers"]):
        try:
            ra = [QuestionResult.from_dict(d) for d in _per_question(a, name, args.compare[0])]
            rb = [QuestionResult.from_dict(d) for d in _per_question(b, name, args.compare[1])]
            out["retrievers"][name] = _slices(ra, rb)
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(f"the per-question results of {name} are malformed ({exc}); save the runs again") from exc
    if not out["retrievers"]:
        raise InputError("the two runs share no retriever: run both with the same --retriever")
    if args.json:
        _print_json(out)
    else:
        print(_table(out))
    return 0


def _slices(ra: list[Any], rb: list[Any]) -> dict[str, Any]:
    from citeqa.eval.figures import paired

    def rows(pa: list[Any], pb: list[Any]) -> dict[str, Any]:
        diffs = paired(pa, pb)
        questions = next(iter(diffs.values())).questions if diffs else 0
        return {"questions": questions, "figures": {
            k: {"a": d.a, "b": d.b, "diff": d.diff, "ci95": [d.low, d.high], "significant": d.significant}
            for k, d in diffs.items()
        }}

    out = {"all": rows(ra, rb)}
    for attr, label in (("kind", "kind"), ("batch", "batch")):
        for value in sorted({getattr(r, attr) for r in ra if getattr(r, attr)}):
            out[f"{label}:{value}"] = rows([r for r in ra if getattr(r, attr) == value],
                                           [r for r in rb if getattr(r, attr) == value])
    return out


def _table(out: dict[str, Any]) -> str:
    lines = [f"A = {out['a']}", f"B = {out['b']}", "* the paired 95 % interval of B − A excludes 0", ""]
    for name, slices in out["retrievers"].items():
        for slice_name, s in slices.items():
            lines.append(f"## {name} — {slice_name} ({s['questions']} questions in both)")
            lines.append(f"{'figure':24} {'A':>8} {'B':>8} {'B − A':>8}  95 % interval")
            for fig, d in s["figures"].items():
                lo, hi = d["ci95"]
                interval = "n/a" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]"
                mark = " *" if d["significant"] else ""
                a_b = f"{_num(d['a']):>8} {_num(d['b']):>8} {_num(d['diff'], '+'):>8}"
                lines.append(f"{fig:24} {a_b}  {interval}{mark}")
            lines.append("")
    return "\n".join(lines)


def _num(v: float | None, sign: str = "") -> str:
    return "n/a" if v is None else f"{v:{sign}.3f}"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a saved run: not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("retrievers"), dict):
        raise InputError(f"{path} is not a saved run of `citeqa eval --json` (no \"retrievers\")")
    return data


def _per_question(run: dict[str, Any], name: str, path: Path) -> list[dict[str, Any]]:
    rows = run["retrievers"][name].get("per_question")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "qid" in r for r in rows):
        raise InputError(f"{path} has no per-question results for {name}: save it again with this citeqa's "
                         "`citeqa eval --json`")
    return rows
