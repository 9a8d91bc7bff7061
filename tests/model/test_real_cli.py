"""`citeqa search` / `ask` / `index` with the real model, in process through ``citeqa.cli.main``.

``real_cli`` is ``main`` with the session's model: the default index is the session's engine, any other
index is opened or built with the same loaded model. The entry points as processes are tested in
tests/integration/test_entry_points.py and tests/model/test_real_processes.py.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import sys

import pytest

from citeqa.index.local.store import read_generation
from documents import MD_TEXT, bad_files, mixed_folder
from support import ANSWER_KEYS, HIT_KEYS


def run(capsys, cli, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_json_finds_mumbai_first(real_cli, capsys):
    code, out, err = run(capsys, real_cli, "search", "--json", "駐孟買辦事處何時揭牌？")
    assert code == 0, err
    result = json.loads(out)
    assert result["query"] == "駐孟買辦事處何時揭牌？"
    top = result["hits"][0]
    assert set(top) == HIT_KEYS
    assert "孟買" in top["text"] and top["source"] == "mofa-2024-review.zh-TW.txt"
    assert len(result["hits"]) == 5


def test_search_top_k_and_stdin_json_lines_in_order(real_cli, capsys, monkeypatch):
    queries = ["台美經濟繁榮夥伴對话", "", "Which office opened in Mumbai?"]
    stdin = "\n".join(queries) + "\n"
    code, out, _ = run(capsys, real_cli, "search", "-", "--json", "--top-k", "2", stdin=stdin, monkeypatch=monkeypatch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["query"] for d in lines] == queries
    assert len(lines[0]["hits"]) == 2 and "error" in lines[1]
    assert any("孟買" in h["text"] for h in lines[2]["hits"])  # English finds the Traditional passage
    assert code == 2  # one line was bad


def test_ask_json_contract(real_cli, capsys):
    code, out, err = run(capsys, real_cli, "ask", "--json", "拜登政府宣布對台軍售幾次？")
    assert code == 0, err
    d = json.loads(out)
    assert set(d) == ANSWER_KEYS
    assert d["grounded"] is True and "19" in d["answer"] and "[1]" in d["answer"]
    c = d["citations"][0]
    assert "19 度" in c["text"][c["quote_start"] : c["quote_end"]]


def test_ask_human_output_and_stdin(real_cli, capsys, monkeypatch):
    code, out, err = run(capsys, real_cli, "ask", "-", stdin="駐孟買辦事處何時揭牌？\n台北101有多高？\n",
                         monkeypatch=monkeypatch)
    assert code == 0, err
    assert "[1] 一、(五) 新南向政策，不斷深化 ¶1 — " in out
    assert "文件中沒有找到" in out


def test_uncached_hub_model_is_refused_without_download(real_cli, capsys, monkeypatch, tmp_path):
    """A Hub name not in the local cache is refused with the setting that allows downloads, never fetched."""
    attempts: list[object] = []

    def record(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    code, _, err = run(capsys, real_cli, "search", "外交", "--model", "someone/not-cached", "--index", str(tmp_path))
    assert code == 2 and "CITEQA_ALLOW_DOWNLOAD" in err
    assert attempts == []


DOC = "# 總論\n\n甲國與乙國在 3 月簽署了漁業協定。\n"


def test_index_of_user_folder_and_changed_document_is_refused(real_cli, capsys, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(DOC, encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\x00\x01\x02" * 10)
    idx = str(tmp_path / "idx")
    code, _, err = run(capsys, real_cli, "index", str(docs), "--index", idx, "--quiet")
    assert code == 0, err
    assert "skipped" in err and "bad.txt" in err
    _, out, _ = run(capsys, real_cli, "search", "--json", "漁業協定", "--index", idx)
    assert json.loads(out)["hits"][0]["source"] == "a.md"
    (docs / "a.md").write_text("# 總論\n\n改寫。\n", encoding="utf-8")
    code, _, err = run(capsys, real_cli, "search", "漁業協定", "--index", idx)
    assert code == 2 and "citeqa index" in err and "changed" in err


def test_rebuild_hint_command_rebuilds_the_same_folder(real_cli, capsys, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(DOC, encoding="utf-8")
    idx = str(tmp_path / "idx")
    assert run(capsys, real_cli, "index", str(docs), "--index", idx, "--quiet")[0] == 0
    (docs / "a.md").write_text("# 總論\n\n甲國與乙國在 5 月簽署了礦業協定。\n", encoding="utf-8")
    assert run(capsys, real_cli, "search", "礦業", "--index", idx)[0] == 2
    code, _, err = run(capsys, real_cli, "index", "--index", idx, "--quiet")  # the command the hint names
    assert code == 0 and str(docs) in err
    code, out, _ = run(capsys, real_cli, "search", "--json", "礦業協定", "--index", idx)
    assert code == 0 and "礦業" in json.loads(out)["hits"][0]["text"]


@pytest.fixture
def user_folder(tmp_path):
    """The mixed folder of four formats, a drafts folder to exclude, and an encrypted PDF to skip."""
    root = mixed_folder(tmp_path / "docs")
    (root / "drafts").mkdir()
    shutil.copy(root / "sea.md", root / "drafts" / "old.md")
    bad = tmp_path / "bad"
    bad.mkdir()
    bad_files(bad)
    shutil.copy(bad / "locked.pdf", root / "locked.pdf")
    return root


def test_cli_index_search_and_update_own_documents(real_cli, capsys, tmp_path, user_folder):
    root, idx = user_folder, str(tmp_path / "idx")
    code, _, err = run(capsys, real_cli, "index", str(root), "--index", idx, "--exclude", "drafts", "--quiet")
    assert code == 0, err
    assert "skipped" in err and "locked.pdf" in err and "encrypted" in err
    manifest = read_generation(tmp_path / "idx").manifest
    assert sorted(manifest["sources"]) == ["notes.docx", "report.pdf", "sea.md", "sub/culture.txt"]

    code, out, err = run(capsys, real_cli, "search", "立陶宛無人機", "--index", idx, "--json", "--top-k", "3")
    assert code == 0, err
    top = json.loads(out)["hits"][0]
    assert (top["source"], top["page"]) == ("report.pdf", 3) and top["label"].endswith(" p.3")

    _, out, _ = run(capsys, real_cli, "search", "合作", "--index", idx, "--json", "--top-k", "3", "--source", "*.docx")
    hits = json.loads(out)["hits"]
    assert len(hits) == 3 and {h["source"] for h in hits} == {"notes.docx"}

    (root / "sea.md").write_text(MD_TEXT + "\n「藍色經濟」計畫推動海洋產業。\n", encoding="utf-8")
    code, _, err = run(capsys, real_cli, "index", "--index", idx, "--quiet")  # no PATH: the same roots and filters
    assert code == 0, err
    assert "re-embedding 1 changed file: sea.md" in err and "unchanged: 3 files" in err
    _, out, _ = run(capsys, real_cli, "search", "藍色經濟", "--index", idx, "--json", "--top-k", "1")
    assert json.loads(out)["hits"][0]["source"] == "sea.md"
