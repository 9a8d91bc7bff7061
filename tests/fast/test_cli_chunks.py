"""`citeqa chunks` in process through ``citeqa.cli.main``: what it prints, and its one-line errors.

The entry points themselves (``python -m citeqa``, the ``citeqa`` script) run as subprocesses in
tests/integration/test_entry_points.py.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from citeqa.cli import main
from citeqa.corpus import bundled_corpus_path

PASSAGE_KEYS = {"id", "source", "section", "label", "text", "start", "end"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No CITEQA_* variable of the caller applies, and the working directory is a fresh one."""
    for name in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_chunks_json_of_bundled_corpus(capsys, bundled):
    code, out, err = run(capsys, "chunks", "--json")
    assert code == 0, err
    assert err == ""
    data = json.loads(out)
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
    assert "（WHO）" in out  # non-ASCII printed as is, not \\u-escaped


def test_chunks_json_offsets_index_the_source(capsys, corpus_text):
    code, out, err = run(capsys, "chunks", "--json", str(bundled_corpus_path()))
    assert code == 0, err
    for p in json.loads(out)["passages"]:
        raw = corpus_text[p["start"] : p["end"]]
        assert raw.replace("2024 年外交工作回顧", "").replace("\n", "") == p["text"]


def test_chunks_human_output(capsys, bundled):
    code, out, err = run(capsys, "chunks")
    assert code == 0, err
    lines = out.splitlines()
    for p in bundled.passages:
        head = f"[{p.id}] {p.label}  ({p.source} {p.start}-{p.end})"
        i = lines.index(head)
        assert lines[i + 1] == f"  {p.text}"
    assert sum(1 for ln in lines if ln.startswith("[")) == len(bundled.passages)
    assert err.strip().splitlines()[-1] == f"{len(bundled.passages)} passages from 1 document(s)"


def test_chunks_max_chars(capsys):
    code, out, err = run(capsys, "chunks", "--json", "--max-chars", "60")
    assert code == 0, err
    passages = json.loads(out)["passages"]
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


def assert_one_line_error(capsys, argv: list[str], mentions: str | None = None) -> None:
    """Exit 2, nothing on stdout, one ``citeqa: error:`` line on stderr (mentioning ``mentions``)."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, err)
    err_lines = err.splitlines()
    assert len(err_lines) == 1, err
    assert err_lines[0].startswith("citeqa: error:")
    assert out == ""
    if mentions:
        assert mentions in err_lines[0]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_one_line_error(capsys, tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    assert_one_line_error(capsys, ["chunks", str(path)], mentions=path.name)


@pytest.mark.parametrize("kind", ["binary", "folder-without-documents"])
def test_bad_input_with_json_flag_is_one_line_error(capsys, tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    assert_one_line_error(capsys, ["chunks", "--json", str(path)], mentions=path.name)


def test_document_over_the_size_limit(capsys, monkeypatch):
    monkeypatch.setenv("CITEQA_MAX_DOC_BYTES", "10")
    assert_one_line_error(capsys, ["chunks"], mentions="CITEQA_MAX_DOC_BYTES")


def test_bad_environment_value(capsys, monkeypatch):
    monkeypatch.setenv("CITEQA_MAX_DOC_BYTES", "lots")
    assert_one_line_error(capsys, ["chunks"], mentions="CITEQA_MAX_DOC_BYTES")


def test_too_small_max_chars_is_one_line_error(capsys):
    assert_one_line_error(capsys, ["chunks", "--max-chars", "5"])


def test_big5_file_is_accepted(capsys, tmp_path):
    text = "一、總論\n\n外交部 2024 年持續推動「榮邦計畫」，與友邦合作（WHO）。\n\n結語\n\n台灣展現韌性。\n"
    path = tmp_path / "big5.txt"
    path.write_bytes(text.encode("big5"))
    code, out, err = run(capsys, "chunks", "--json", str(path))
    assert code == 0, err
    passages = json.loads(out)["passages"]
    assert [(p["section"], p["text"]) for p in passages] == [
        (["一、總論"], "外交部 2024 年持續推動「榮邦計畫」，與友邦合作（WHO）。"),
        (["結語"], "台灣展現韌性。"),
    ]
    assert all(p["source"] == "big5.txt" for p in passages)


def test_folder_with_a_bad_file_reports_the_skip_and_succeeds(capsys, tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.txt").write_text("一、總論\n\n好的內容。\n", encoding="utf-8")
    (root / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    code, out, err = run(capsys, "chunks", "--json", str(root))
    assert code == 0, err
    assert [p["text"] for p in json.loads(out)["passages"]] == ["好的內容。"]
    skipped = [ln for ln in err.splitlines() if ln.startswith("citeqa: skipped")]
    assert len(skipped) == 1 and "bad.txt" in skipped[0]


def test_several_paths(capsys, tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.md"
    a.write_text("甲。\n", encoding="utf-8")
    b.write_text("# 乙\n\n乙的內容。\n", encoding="utf-8")
    code, out, err = run(capsys, "chunks", "--json", str(a), str(b))
    assert code == 0, err
    assert [(p["source"], p["text"]) for p in json.loads(out)["passages"]] == [
        ("a.txt", "甲。"),
        ("b.md", "乙的內容。"),
    ]


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["chunks", "--no-such-option"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == "" and "--no-such-option" in err
