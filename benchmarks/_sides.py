"""The two sides of a side-by-side benchmark (``--compare A B``): two commits, or one commit with two settings.

A side is written ``NAME=WHERE`` with optional ``,VAR=VALUE`` settings after it:

- ``old=d7b5632``: a commit (any git ref) of this repository, exported with ``git archive`` into a
  private temp dir;
- ``new=.``: this checkout's working tree, as it is;
- ``new=/path/to/checkout``: another checkout (a folder holding ``src/citeqa``);
- ``t1=.,CITEQA_TORCH_THREADS=1`` and ``t2=.,CITEQA_TORCH_THREADS=2``: the same code, two settings.

Each side's processes run this interpreter with ``PYTHONPATH`` set to the side's ``src`` (which wins
over the installed citeqa), the side's variables, and a private ``CITEQA_CACHE_DIR`` /
``CITEQA_DATA_DIR`` of its own, prepared once (model conversion, index) before anything is timed.
Both sides then take turns (A, B, A, B, ...), so a change in the machine's load during the run
affects them alike, and ratios (B / A) are printed. The interpreter's packages serve both sides.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass(frozen=True)
class Side:
    """One side: its name, the ``src`` folder it imports citeqa from, its settings and its private dirs."""

    name: str
    where: str
    src: Path
    settings: dict[str, str] = field(default_factory=dict)
    home: Path = Path()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of this side's processes: no CITEQA_* of the caller's shell, then the side's own."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("CITEQA_")}
        env["PYTHONPATH"] = os.pathsep.join([str(self.src), *filter(None, [env.get("PYTHONPATH")])])
        env["CITEQA_CACHE_DIR"] = str(self.home / "cache")
        env["CITEQA_DATA_DIR"] = str(self.home / "data")
        env.update(self.settings)
        return env

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "where": self.where, "src": str(self.src), "settings": self.settings}


def parse_side(spec: str, workdir: Path) -> Side:
    """``"old=d7b5632,CITEQA_TORCH_THREADS=1"`` -> a Side whose source is exported under ``workdir``."""
    head, *pairs = spec.split(",")
    name, sep, where = head.partition("=")
    if not sep or not _NAME.match(name) or not where:
        raise ValueError(f"a side is NAME=WHERE[,VAR=VALUE...]; got {spec!r}")
    settings = {}
    for pair in pairs:
        var, eq, value = pair.partition("=")
        if not eq or not re.match(r"^[A-Z_][A-Z0-9_]*$", var):
            raise ValueError(f"a setting is VAR=VALUE; got {pair!r} in {spec!r}")
        settings[var] = value
    home = workdir / name
    home.mkdir(parents=True, exist_ok=False)
    return Side(name, where, _source(where, home), settings, home)


def _source(where: str, home: Path) -> Path:
    """The ``src`` folder of ``where``: this checkout, another checkout, or a commit exported into ``home``."""
    if where == ".":
        return REPO / "src"
    path = Path(where).expanduser()
    if (path / "src" / "citeqa").is_dir():
        return path.resolve() / "src"
    out = home / "checkout"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", where, "src"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise ValueError(f"{where!r} is neither a checkout folder nor a commit: {archive.stderr.decode()[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out / "src"


def prepare(side: Side, question: str, log: Any) -> float:
    """Convert the model and build the index in the side's dirs (``citeqa index``), then ask once.

    The first question also fills caches a later run reads (the background bank's vectors).
    Returns the seconds it took; raises RuntimeError with the output's tail if a step fails.
    """
    import time

    t0 = time.perf_counter()
    for args in (["index"], ["ask", "--json", question]):
        proc = subprocess.run(
            [sys.executable, "-m", "citeqa", *args], env=side.env(), capture_output=True, text=True,
            timeout=1800, check=False, cwd=side.home,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"side {side.name}: citeqa {args[0]} exited {proc.returncode}: {proc.stderr[-1500:]}")
    took = time.perf_counter() - t0
    log(f"side {side.name} ({side.where}) prepared in {took:.1f} s")
    return took


def ratio(b: float | None, a: float | None) -> float | None:
    """B / A rounded, or None when either is missing or A is 0."""
    if a in (None, 0) or b is None:
        return None
    return round(b / a, 3)


def compared(a: list[dict[str, Any]], b: list[dict[str, Any]], pick: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The median over each side's runs of one figure (``pick``), both sides' runs, and B / A."""

    def median(runs: list[dict[str, Any]]) -> float | None:
        values = sorted(v for v in (pick(r) for r in runs) if v is not None)
        return values[(len(values) - 1) // 2] if values else None

    ma, mb = median(a), median(b)
    return {"a": ma, "b": mb, "b_over_a": ratio(mb, ma), "a_runs": [pick(r) for r in a], "b_runs": [pick(r) for r in b]}
