"""`citeqa chunks` through the real entry points, as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citeqa.corpus import bundled_corpus_path

PASSAGE_KEYS = {"id", "source", "section", "label", "text", "start", "end"}


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


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run(
    entry: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENTRY_POINTS[entry](), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env or _env(),
        timeout=120,
    )


@pytest.fixture(params=list(ENTRY_POINTS))
def entry(request) -> str:
    return request.param


def test_chunks_json_of_bundled_corpus(entry, tmp_path, bundled):
    r = run(entry, "chunks", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    data = json.loads(r.stdout)
    assert set(data) == {"passages"}
    passages = data["passages"]
    assert len(passages) >= 25
    for p in passages:
        assert set(p) == PASSAGE_KEYS, sorted(p)
        assert isinstance(p["section"], list) and all(isinstance(h, str) for h in p["section"])
        assert isinstance(p["start"], int) and isinstance(p["end"], int) and p["start"] < p["end"]
        assert p["source"] == "mofa-2024-review.zh-TW.txt"
    assert [p["id"] for p in passages] == [p.id for p in bundled.passages]
    assert [p["text"] for p in passages] == [p.text for p in bundled.passages]
    assert len({p["id"] for p in passages}) == len(passages)
    assert "（WHO）" in r.stdout  # non-ASCII printed as is, not \\u-escaped


def test_chunks_json_offsets_index_the_source(tmp_path, corpus_text):
    r = run("module", "chunks", "--json", str(bundled_corpus_path()), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for p in json.loads(r.stdout)["passages"]:
        raw = corpus_text[p["start"] : p["end"]]
        assert raw.replace("2024 年外交工作回顧", "").replace("\n", "") == p["text"]


def test_chunks_human_output(entry, tmp_path, bundled):
    r = run(entry, "chunks", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for p in bundled.passages:
        head = f"[{p.id}] {p.label}  ({p.source} {p.start}-{p.end})"
        i = lines.index(head)
        assert lines[i + 1] == f"  {p.text}"
    assert sum(1 for ln in lines if ln.startswith("[")) == len(bundled.passages)
    assert r.stderr.strip().splitlines()[-1] == f"{len(bundled.passages)} passages from 1 document(s)"


def test_chunks_max_chars(tmp_path):
    r = run("module", "chunks", "--json", "--max-chars", "60", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    passages = json.loads(r.stdout)["passages"]
    assert len(passages) > 50
    assert all(len(p["text"]) <= 60 for p in passages)
    assert all(p["id"].rsplit(".", 1)[1].isdigit() for p in passages)


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(random.Random(0).randbytes(2048))
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\xff\x80\xfe\x81" * 64)
    no_docs = tmp_path / "no-docs"
    no_docs.mkdir()
    (no_docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    only_bad = tmp_path / "only-bad"
    only_bad.mkdir()
    (only_bad / "x.txt").write_bytes(b"\x00\x01\x02" * 100)
    return {
        "missing": tmp_path / "does-not-exist.txt",
        "empty": empty,
        "binary": binary,
        "garbage": garbage,
        "folder-without-documents": no_docs,
        "folder-of-unreadable-files": only_bad,
    }


BAD = ["missing", "empty", "binary", "garbage", "folder-without-documents", "folder-of-unreadable-files"]


def _assert_one_line_error(r: subprocess.CompletedProcess[str], mentions: str | None = None) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    err_lines = r.stderr.splitlines()
    assert len(err_lines) == 1, r.stderr
    assert err_lines[0].startswith("citeqa: error:")
    assert r.stdout == ""
    if mentions:
        assert mentions in err_lines[0]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_one_line_error(entry, tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    r = run(entry, "chunks", str(path), cwd=tmp_path)
    _assert_one_line_error(r, mentions=path.name)


@pytest.mark.parametrize("kind", ["binary", "folder-without-documents"])
def test_bad_input_with_json_flag_is_one_line_error(tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    _assert_one_line_error(run("module", "chunks", "--json", str(path), cwd=tmp_path), mentions=path.name)


def test_document_over_the_size_limit(tmp_path):
    env = _env() | {"CITEQA_MAX_DOC_BYTES": "10"}
    _assert_one_line_error(run("module", "chunks", cwd=tmp_path, env=env), mentions="CITEQA_MAX_DOC_BYTES")


def test_bad_environment_value(tmp_path):
    env = _env() | {"CITEQA_MAX_DOC_BYTES": "lots"}
    _assert_one_line_error(run("module", "chunks", cwd=tmp_path, env=env), mentions="CITEQA_MAX_DOC_BYTES")


def test_too_small_max_chars_is_one_line_error(tmp_path):
    _assert_one_line_error(run("module", "chunks", "--max-chars", "5", cwd=tmp_path))


def test_big5_file_is_accepted(entry, tmp_path):
    text = "一、總論\n\n外交部 2024 年持續推動「榮邦計畫」，與友邦合作（WHO）。\n\n結語\n\n台灣展現韌性。\n"
    path = tmp_path / "big5.txt"
    path.write_bytes(text.encode("big5"))
    r = run(entry, "chunks", "--json", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    passages = json.loads(r.stdout)["passages"]
    assert [(p["section"], p["text"]) for p in passages] == [
        (["一、總論"], "外交部 2024 年持續推動「榮邦計畫」，與友邦合作（WHO）。"),
        (["結語"], "台灣展現韌性。"),
    ]
    assert all(p["source"] == "big5.txt" for p in passages)


def test_folder_with_a_bad_file_reports_the_skip_and_succeeds(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.txt").write_text("一、總論\n\n好的內容。\n", encoding="utf-8")
    (root / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    r = run("module", "chunks", "--json", str(root), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p["text"] for p in json.loads(r.stdout)["passages"]] == ["好的內容。"]
    assert "Traceback" not in r.stderr
    skipped = [ln for ln in r.stderr.splitlines() if ln.startswith("citeqa: skipped")]
    assert len(skipped) == 1 and "bad.txt" in skipped[0]


def test_several_paths(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.md"
    a.write_text("甲。\n", encoding="utf-8")
    b.write_text("# 乙\n\n乙的內容。\n", encoding="utf-8")
    r = run("module", "chunks", "--json", str(a), str(b), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [(p["source"], p["text"]) for p in json.loads(r.stdout)["passages"]] == [
        ("a.txt", "甲。"),
        ("b.md", "乙的內容。"),
    ]


def test_unknown_option_is_a_usage_error(tmp_path):
    r = run("module", "chunks", "--no-such-option", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
