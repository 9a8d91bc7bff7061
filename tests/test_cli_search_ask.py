"""`citeqa search` / `ask` / `index` through the real entry point with the real model."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def run(env, *args, stdin=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "citeqa", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def test_search_json_finds_mumbai_first(real_env):
    r = run(real_env, "search", "--json", "駐孟買辦事處何時揭牌？")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["query"] == "駐孟買辦事處何時揭牌？"
    top = out["hits"][0]
    assert set(top) == {"id", "section", "label", "text", "score", "source", "start", "end"}
    assert "孟買" in top["text"] and top["source"] == "mofa-2024-review.zh-TW.txt"
    assert len(out["hits"]) == 5


def test_search_top_k_and_stdin_json_lines_in_order(real_env):
    queries = ["台美經濟繁榮夥伴對话", "", "Which office opened in Mumbai?"]
    r = run(real_env, "search", "-", "--json", "--top-k", "2", stdin="\n".join(queries) + "\n")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["query"] for d in lines] == queries
    assert len(lines[0]["hits"]) == 2 and "error" in lines[1]
    assert any("孟買" in h["text"] for h in lines[2]["hits"])  # English finds the Traditional passage
    assert r.returncode == 2  # one line was bad


def test_ask_json_contract(real_env):
    r = run(real_env, "ask", "--json", "拜登政府宣布對台軍售幾次？")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {"question", "answer", "grounded", "citations"}
    assert d["grounded"] is True and "19" in d["answer"] and "[1]" in d["answer"]
    c = d["citations"][0]
    assert "19 度" in c["text"][c["quote_start"] : c["quote_end"]]


def test_ask_human_output_and_stdin(real_env):
    r = run(real_env, "ask", "-", stdin="駐孟買辦事處何時揭牌？\n台北101有多高？\n")
    assert r.returncode == 0, r.stderr
    assert "[1] 一、(五) 新南向政策，不斷深化 ¶1 — " in r.stdout
    assert "文件中沒有找到" in r.stdout


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_question_exits_2_with_one_line(real_env, question):
    r = run(real_env, "ask", question)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("citeqa: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_model_path_fails_fast(real_env, tmp_path):
    t0 = time.monotonic()
    r = run(real_env, "search", "外交", "--model", str(tmp_path / "no-such-model"), "--index", str(tmp_path / "i"))
    assert r.returncode == 2 and "no-such-model" in r.stderr
    assert time.monotonic() - t0 < 60  # no Hub retries (they take ~90 s)


def test_uncached_hub_model_is_refused_without_download(real_env, tmp_path):
    r = run(
        {**real_env, "HF_HUB_OFFLINE": "1"}, "search", "外交", "--model", "someone/not-cached", "--index", str(tmp_path)
    )
    assert r.returncode == 2 and "CITEQA_ALLOW_DOWNLOAD" in r.stderr


def test_index_of_user_folder_and_changed_document_is_refused(real_env, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 總論\n\n甲國與乙國在 3 月簽署了漁業協定。\n", encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\x00\x01\x02" * 10)
    r = run(real_env, "index", str(docs), "--index", str(tmp_path / "idx"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr and "bad.txt" in r.stderr
    r = run(real_env, "search", "--json", "漁業協定", "--index", str(tmp_path / "idx"))
    assert json.loads(r.stdout)["hits"][0]["source"] == "a.md"
    (docs / "a.md").write_text("# 總論\n\n改寫。\n", encoding="utf-8")
    r = run(real_env, "search", "漁業協定", "--index", str(tmp_path / "idx"))
    assert r.returncode == 2 and "citeqa index" in r.stderr and "changed" in r.stderr


def test_rebuild_hint_command_rebuilds_the_same_folder(real_env, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 總論\n\n甲國與乙國在 3 月簽署了漁業協定。\n", encoding="utf-8")
    idx = tmp_path / "idx"
    assert run(real_env, "index", str(docs), "--index", str(idx), "--quiet").returncode == 0
    (docs / "a.md").write_text("# 總論\n\n甲國與乙國在 5 月簽署了礦業協定。\n", encoding="utf-8")
    assert run(real_env, "search", "礦業", "--index", str(idx)).returncode == 2
    r = run(real_env, "index", "--index", str(idx), "--quiet")  # the command the hint names
    assert r.returncode == 0 and str(docs) in r.stderr
    r = run(real_env, "search", "--json", "礦業協定", "--index", str(idx))
    assert r.returncode == 0 and "礦業" in json.loads(r.stdout)["hits"][0]["text"]
