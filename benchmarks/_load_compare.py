"""``bench_load.py --compare A B``: each side's server in turn, interleaved, with B / A ratios (``_sides.py``)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _common import emit, log, machine
from bench_load import questions, run_load, started_server


def compare(args: argparse.Namespace) -> int:
    """Each side's server in turn, ``--rounds`` times (A B, then B A, ...), then B / A ratios."""
    from _sides import compared, parse_side, prepare

    result: dict[str, Any] = {"benchmark": "load-compare", "quick": args.quick, "machine_start": machine()}
    work = Path(tempfile.mkdtemp(prefix="citeqa-bench-load-compare-"))
    try:
        sides = [parse_side(spec, work) for spec in args.compare]
        result["sides"] = [side.describe() for side in sides]
        for side in sides:
            prepare(side, questions()[0], log)
        runs: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                log(f"round {r + 1}/{args.rounds}: side {side.name}")
                info: dict[str, Any] = {}
                figures = run_load(args, started_server(side.env(), args.start_timeout, info), info)
                figures.pop("server_log_tail", None)
                runs[side.name].append(figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["runs"] = runs
    a, b = (runs[side.name] for side in sides)
    result["summary"] = {key: compared(a, b, pick) for key, pick in _COMPARED.items()}
    for key, row in result["summary"].items():
        log(f"{key:28s} {sides[0].name}: {row['a']}  {sides[1].name}: {row['b']}  B/A: {row['b_over_a']}")
    result["machine_end"] = machine()
    emit(result)
    return 0


_COMPARED: dict[str, Any] = {
    "throughput_rps": lambda r: r["throughput_rps"],
    "errors": lambda r: r["errors"],
    "p50_ms": lambda r: r["latency"]["p50_ms"],
    "p99_ms": lambda r: r["latency"]["p99_ms"],
    "server_cpu_ms_per_request": lambda r: r.get("server_cpu_ms_per_request"),
    "server_peak_rss_mib": lambda r: r.get("server_peak_rss_mib"),
}
