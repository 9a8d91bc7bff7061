"""Shared helpers of the benchmark scripts: machine description, percentiles, peak RSS, JSON output.

Benchmarks print figures; they never assert timings. Every script ends with one JSON line holding
all of its figures plus the ``machine`` they ran on.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any


def cpu_model() -> str:
    """The first ``model name`` of /proc/cpuinfo (platform.processor() is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """What the figures were measured on; the load average shows whether the machine was shared."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    mem_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024**2, 1)
                    break
    except OSError:
        pass
    return {
        "nproc": affinity,
        "cpu_model": cpu_model(),
        "loadavg": loadavg(),
        "mem_total_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ``samples``: p50 of [1, 2, 3, 4] is 2, p99 of 100 values is the 99th."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[min(rank, len(s)) - 1]


def summarize_ms(samples_s: Sequence[float], ps: Sequence[float] = (50, 95, 99)) -> dict[str, Any]:
    """Percentiles (milliseconds) of samples given in seconds, plus their count and mean."""
    out: dict[str, Any] = {"n": len(samples_s)}
    for p in ps:
        out[f"p{p:g}_ms"] = round(percentile(samples_s, p) * 1000, 3)
    out["mean_ms"] = round(sum(samples_s) / len(samples_s) * 1000, 3) if samples_s else float("nan")
    return out


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """ru_maxrss in MiB (Linux reports KiB). RUSAGE_CHILDREN is the largest waited-for child."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def current_rss_mib() -> float:
    """Resident set size now (from /proc/self/statm), for before/after deltas."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1024**2, 1)
    except (OSError, ValueError):
        return float("nan")


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``), so that an
    RSS delta measured next counts new allocations instead of reused, already resident pages."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with suppress(OSError, AttributeError):  # not glibc: deltas are then only approximate
            ctypes.CDLL(name).malloc_trim(0)


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    """Store the wall time of the block, in seconds, as ``into[key]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - t0, 4)


def log(msg: str) -> None:
    """Progress on stderr, so stdout keeps only the figures and the final JSON line."""
    print(msg, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the final JSON line (one line, last on stdout)."""
    print(json.dumps(result, ensure_ascii=False, sort_keys=False), flush=True)
