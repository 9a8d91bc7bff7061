"""The true entry points, as a user runs them: ``python -m citeqa`` and the ``citeqa`` script (subprocesses).

Everything the commands print and refuse is tested in process through ``citeqa.cli.main`` (tests/fast,
tests/model); here only what a subprocess alone shows: the entry points start, print UTF-8 JSON on
stdout, and exit 2 with one line on stderr and no traceback. ``citeqa serve`` as a process is in
tests/model/test_real_processes.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _console_script() -> str:
    here = Path(sys.executable).parent / "citeqa"
    if here.exists():
        return str(here)
    found = shutil.which("citeqa")
    assert found, "the citeqa console script is not installed"
    return found


ENTRY_POINTS = {
    "module": lambda: [sys.executable, "-m", "citeqa"],
    "script": lambda: [_console_script()],
}


def run(entry: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [*ENTRY_POINTS[entry](), *args], capture_output=True, text=True, encoding="utf-8", cwd=cwd, env=env,
        timeout=120,
    )


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_chunks_json_through_each_entry_point(entry, tmp_path, bundled):
    r = run(entry, "chunks", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    passages = json.loads(r.stdout)["passages"]
    assert [p["id"] for p in passages] == [p.id for p in bundled.passages]
    assert [p["text"] for p in passages] == [p.text for p in bundled.passages]
    assert "（WHO）" in r.stdout  # non-ASCII printed as is, not \\u-escaped


@pytest.mark.parametrize(
    ("entry", "argv", "words"),
    [
        ("script", ["chunks", "does-not-exist.txt"], "does-not-exist.txt"),
        ("module", ["ask", ""], "empty"),  # refused before any model is loaded
    ],
    ids=["missing file", "empty question"],
)
def test_errors_exit_2_with_one_line_and_no_traceback(entry, argv, words, tmp_path):
    r = run(entry, *argv, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("citeqa: error:"), r.stderr
    assert words in r.stderr


def test_unknown_option_is_a_usage_error(tmp_path):
    r = run("module", "chunks", "--no-such-option", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "unrecognized arguments: --no-such-option" in r.stderr
