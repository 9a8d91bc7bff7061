"""Control characters in file names and document text stay inside one line of the CLI's plain text (probe N10).

In process through ``citeqa.cli.main`` with the fake embedder. JSON output keeps the names as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from citeqa.cli import main
from citeqa.cli.commands import one_line

NAME = "new\nline.txt"
SHOWN = "new\\nline.txt"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No CITEQA_* variable of the caller applies; caches and data stay under tmp."""
    for name in [k for k in os.environ if k.startswith("CITEQA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CITEQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CITEQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def docs(tmp_path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / NAME).write_text("一、文化\n\n台灣舉辦國際書展，邀請多國出版社參加。\n\n另辦電影節。\n", encoding="utf-8")
    (root / "plain.txt").write_text("一、援助\n\n外交部捐贈醫療物資給友邦醫院。\n", encoding="utf-8")
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", r"a\nb"),
        ("a\tb\rc", r"a\tb\rc"),
        ("\x00\x1b[31m\x7f", r"\x00\x1b[31m\x7f"),
        ("a\x85b", r"a\x85b"),  # NEL, a C1 control that splitlines() breaks at
        ("a\u2028b\u2029c", r"a\u2028b\u2029c"),
        ("台灣 (WHO)「書展」 \\n", "台灣 (WHO)「書展」 \\n"),  # printable text, a backslash included, as it is
    ],
)
def test_one_line_escapes_controls_only(raw, shown):
    assert one_line(raw) == shown
    assert len(one_line(raw).splitlines()) == 1


def test_chunks_keeps_each_label_on_one_line(capsys, docs):
    code, out, err = run(capsys, "chunks", str(docs), "--json")
    assert code == 0, err
    passages = json.loads(out)["passages"]
    assert {p["source"] for p in passages} == {NAME, "plain.txt"}  # JSON: the real name

    code, out, err = run(capsys, "chunks", str(docs))
    assert code == 0, err
    heads = [line for line in out.splitlines() if line.startswith("[")]
    assert len(heads) == len(passages)
    for p, head in zip(passages, heads, strict=True):
        assert head == one_line(f"[{p['id']}] {p['label']}  ({p['source']} {p['start']}-{p['end']})")
    named = [h for h in heads if NAME.split("\n")[0] in h]
    assert named and all(SHOWN in h for h in named)
    assert not any(line.startswith("line.txt") for line in out.splitlines())


def test_an_error_naming_such_a_file_is_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "chunks", str(tmp_path / "missing\nfile.txt"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("citeqa: error: ") and "missing\\nfile.txt" in err


def test_index_search_and_ask_print_one_line_per_record(capsys, monkeypatch, docs, tmp_path, fake_embedder):
    monkeypatch.setattr("citeqa.index.update.embedder_for", lambda *a, **kw: fake_embedder)
    monkeypatch.setattr("citeqa.qa.engine.embedder_for", lambda *a, **kw: fake_embedder)
    index = str(tmp_path / "idx")
    code, _, err = run(capsys, "index", str(docs), "--index", index, "--quiet")
    assert code == 0, err
    (docs / "added\r\nfile.txt").write_text("一、新聞\n\n外交部推出新倡議。\n", encoding="utf-8")
    code, _, err = run(capsys, "index", str(docs), "--index", index, "--quiet")
    assert code == 0, err
    assert "embedding 1 added file: added\\r\\nfile.txt" in err.splitlines(), err  # the progress log names it
    assert not any(line.startswith("file.txt") for line in err.splitlines()), err

    code, out, err = run(capsys, "search", "國際書展", "--index", index, "--top-k", "1")
    assert code == 0, err
    assert out.splitlines()[0].startswith("1. ") and f"[{SHOWN}]" in out.splitlines()[0], out

    code, out, err = run(capsys, "ask", "台灣舉辦什麼書展？", "--index", index)
    assert code == 0, err
    assert not any(line.startswith("line.txt") for line in out.splitlines()), out
