"""``files.write_atomic`` and ``files.replace_dir``: the project's one way to publish a file or folder.

A failed write (a full disk, a writer that raises) leaves the old file as it was and no temp file;
and no module but ``files.py`` renames files itself, so a hand-written copy cannot creep back in.
"""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import numpy as np
import pytest

import citeqa
from citeqa import files
from citeqa.eval.report import write_report
from citeqa.files import replace_dir, write_atomic

SRC = Path(citeqa.__file__).resolve().parent
# A rename done by hand: os.replace / os.rename (also as bare names imported from os), or Path.rename
# (``str`` has no ``.rename``, so any ``.rename(`` is a file being renamed).
_RENAME = re.compile(r"\bos\.(replace|renames?)\(|from os import [^\n]*\b(replace|renames?)\b|\.rename\(")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("甲\n乙", "甲\n乙".encode()),
        (b"\x00\xff", b"\x00\xff"),
        (lambda f: f.write(b"streamed"), b"streamed"),
    ],
    ids=["text", "bytes", "writer"],
)
def test_writes_text_bytes_or_a_writer(tmp_path, data, expected):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    write_atomic(path, data)
    assert path.read_bytes() == expected
    assert _names(tmp_path) == ["out.bin"]


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}', encoding="utf-8")

    def half_then_full(f):
        f.write(b'{"new": ')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, half_then_full)
    assert json.loads(path.read_text(encoding="utf-8")) == {"old": True}
    assert _names(tmp_path) == ["report.json"]


def test_a_full_disk_at_fsync_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    """Buffered bytes reach the disk at the flush or the fsync: a full disk shows there, not at write."""
    path = tmp_path / "CURRENT"
    path.write_text("gen-old\n", encoding="utf-8")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_atomic(path, "gen-new\n")
    assert caught.value.errno == errno.ENOSPC
    assert path.read_text(encoding="utf-8") == "gen-old\n"
    assert _names(tmp_path) == ["CURRENT"]


def test_a_failed_rename_leaves_no_temp(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("kept")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "taken", "text")  # a file cannot replace a non-empty directory
    assert _names(tmp_path) == ["taken"] and (tmp_path / "taken" / "x").read_text() == "kept"


def test_replace_dir_publishes_over_an_existing_folder(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "half").write_text("leftover")
    new = tmp_path / ".model.tmp-new"
    new.mkdir()
    (new / "done").write_text("complete")
    replace_dir(new, target)
    assert _names(tmp_path) == ["model"]
    assert _names(target) == ["done"]
    replace_dir(tmp_path / "model", tmp_path / "fresh")  # to a free name: a plain rename
    assert _names(tmp_path) == ["fresh"]


def test_numpy_and_chart_writers_go_through_it(tmp_path):
    """The streamed writers keep their formats: np.save's .npy and a real PNG (no .png name to infer it from)."""
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_atomic(tmp_path / "v.npy", lambda f: np.save(f, vectors))
    assert np.array_equal(np.load(tmp_path / "v.npy"), vectors)

    pytest.importorskip("matplotlib")
    summary = {"questions": 1, "split": "dev", "retrievers": {"hybrid": {"R@1": 1.0, "MRR@10": 1.0}}}
    out = tmp_path / "report"
    write_report(summary, out)
    assert _names(out) == ["report.json", "report.md", "report.png"]
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == summary


def test_the_pattern_finds_hand_written_renames():
    for line in ("os.replace(tmp, path)", "os.rename(a, b)", "from os import replace", "tmp.rename(path)"):
        assert _RENAME.search(line), line
    assert not _RENAME.search('text.replace("a", "b")')


def test_no_module_but_files_renames_by_hand():
    """Every writer uses files.write_atomic or files.replace_dir, so fsync and clean-up are written once."""
    offenders = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "files.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _RENAME.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == [], "use citeqa.files.write_atomic / replace_dir:\n" + "\n".join(offenders)
