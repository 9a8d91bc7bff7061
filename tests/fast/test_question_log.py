"""The question log (``CITEQA_QUESTION_LOG``): settings, answer ids, the store, retention, schema, channels.

One suite runs over both store implementations; what only a file can do (restart, migration from
the previous schema, a newer schema) is tested on SQLite. The channel tests ask through the real
REST API on a live server and through ``citeqa ask``'s handler, with the fake engine, then grep
every byte under the data directory: with the log off the question must be nowhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from citeqa.cli import commands
from citeqa.errors import SettingError
from citeqa.qa.types import Answer
from citeqa.settings import Settings
from citeqa.store import DB_NAME, Limits, StoredTurn, StoreError, open_question_log, open_store
from citeqa.store.memory import MemoryStore
from citeqa.store.questions import DEFAULT_LOG_DAYS, MAX_COMMENT_CHARS, FeedbackError, LoggedAnswer
from citeqa.store.recorder import Recorder
from citeqa.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from citeqa.ui.api.routes import LOG_OFF
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import live_server

DAY = 24 * 3600
ID = re.compile(r"[0-9a-f]{32}")


class Clock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def entry(n: int, at: float, **changes: object) -> LoggedAnswer:
    base = LoggedAnswer(f"{n:032x}", at, "api", f"問題{n}？", None, "not_found", 0.31, ("p1", "p7"))
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "memory"])
def make(request, tmp_path):
    made = []

    def build(limits: Limits | None = None, clock: Clock | None = None):
        clock = clock or Clock()
        if request.param == "sqlite":
            s = SqliteStore(tmp_path / f"{len(made)}.sqlite3", limits, clock=clock)
        else:
            s = MemoryStore(limits, clock=clock)
        made.append(s)
        return s

    yield build
    for s in made:
        s.close()


# --- settings ------------------------------------------------------------------------------------


def test_settings_of_the_log_are_checked_where_read(tmp_path):
    s = Settings.from_env({"CITEQA_DATA_DIR": f" {tmp_path} "})
    assert s.question_log is False and s.question_log_days == DEFAULT_LOG_DAYS == 90
    assert s.data_dir == tmp_path and s.index_dir == tmp_path / "index"
    assert Settings.from_env({"CITEQA_QUESTION_LOG": "ON", "CITEQA_QUESTION_LOG_DAYS": "7"}).question_log_days == 7
    assert Settings.from_env({"CITEQA_QUESTION_LOG": " on "}).question_log is True
    assert Settings.from_env({"CITEQA_QUESTION_LOG": "off"}).question_log is False
    for raw in ("yes", "1", "true", "enabled"):
        with pytest.raises(SettingError, match=r"CITEQA_QUESTION_LOG=.*one of off, on"):
            Settings.from_env({"CITEQA_QUESTION_LOG": raw})
    for raw in ("0", "3651", "-1", "1.5", "abc"):
        with pytest.raises(SettingError, match="CITEQA_QUESTION_LOG_DAYS"):
            Settings.from_env({"CITEQA_QUESTION_LOG_DAYS": raw})
    with pytest.raises(SettingError, match="CITEQA_QUESTION_LOG_DAYS"):
        s.with_(question_log_days=True)


def test_the_library_and_the_server_agree_on_the_data_dir(tmp_path):
    for env in ({"CITEQA_DATA_DIR": str(tmp_path)}, {"CITEQA_DATA_DIR": "  "}, {}, {"CITEQA_DATA_DIR": "~/x"}):
        assert Settings.from_env(env).data_dir == ServeSettings.from_env(env).data_dir


# --- answer ids ----------------------------------------------------------------------------------


def test_every_answer_the_engine_gives_has_a_new_id(fake_engine):
    a = fake_engine.ask("駐孟買辦事處何時揭牌？")
    b = fake_engine.ask("駐孟買辦事處何時揭牌？")
    follow = fake_engine.ask("那荷蘭呢？", previous="駐孟買辦事處何時揭牌？")
    hello = fake_engine.ask("你好")
    ids = [x.id for x in (a, b, follow, hello)]
    assert all(i is not None and ID.fullmatch(i) for i in ids) and len(set(ids)) == 4
    assert a.to_dict()["id"] == a.id and Answer.from_dict(a.to_dict()).id == a.id
    assert a == replace(a, id=None)  # equality is about what was answered, not which delivery it was
    plain = Answer("q", "a", False, ())
    assert plain.to_dict()["id"] is None and Answer.from_dict(plain.to_dict()).id is None
    old = {k: v for k, v in a.to_dict().items() if k != "id"}  # stored before ids existed
    assert Answer.from_dict(old).id is None


def test_a_logged_answer_keeps_what_the_answer_says_and_no_answer_text(fake_engine):
    follow = fake_engine.ask("那荷蘭呢？", previous="駐孟買辦事處何時揭牌？")
    e = LoggedAnswer.of(follow, "chat", 5.0)
    assert (e.id, e.question, e.resolved) == (follow.id, "那荷蘭呢？", "駐荷蘭辦事處何時揭牌？")
    assert e.outcome == str(follow.outcome) and e.channel == "chat" and e.at == 5.0
    assert e.cited == tuple(h.id for h in follow.citations) and e.confidence == follow.confidence
    with pytest.raises(ValueError, match="channel"):
        LoggedAnswer.of(follow, "web", 5.0)
    with pytest.raises(ValueError, match="id"):
        LoggedAnswer.of(replace(follow, id=None), "chat", 5.0)


# --- the store -----------------------------------------------------------------------------------


def test_round_trip_of_answers_and_ratings(make):
    clock = Clock()
    store = make(clock=clock)
    first, second = entry(1, clock.now - 20), entry(2, clock.now - 10, resolved="駐荷蘭辦事處何時揭牌？",
                                                   confidence=None, cited=(), channel="chat")
    store.record(second)
    store.record(first)
    store.record(replace(first, question="changed"))  # the same id again: kept as first recorded
    assert store.answers() == [first, second]
    assert store.answers(since=clock.now - 15) == [second]
    assert store.feedback() == []
    got = store.rate(first.id, "down", "  答非所問  ")
    assert (got.answer_id, got.rating, got.comment, got.changed, got.at) == (first.id, "down", "答非所問", 0, clock.now)
    assert store.feedback() == [got] and store.feedback(since=clock.now - 15) == []


def test_rating_rules(make):
    clock = Clock()
    store = make(clock=clock)
    e = entry(1, clock.now)
    store.record(e)
    with pytest.raises(FeedbackError, match="no logged answer") as unknown:
        store.rate("f" * 32, "up")
    assert unknown.value.status == 404
    for rating in ("meh", "UP", "", None):
        with pytest.raises(FeedbackError) as bad:
            store.rate(e.id, rating)  # type: ignore[arg-type]
        assert bad.value.status == 422
    with pytest.raises(FeedbackError, match="1,000") as long:
        store.rate(e.id, "down", "字" * (MAX_COMMENT_CHARS + 1))
    assert long.value.status == 422 and store.feedback() == []  # refused, not cut
    assert store.rate(e.id, "down").changed == 0
    assert store.rate(e.id, "down", "字" * MAX_COMMENT_CHARS).comment == "字" * MAX_COMMENT_CHARS
    again = store.rate(e.id, "down")  # idempotent; an empty comment keeps the one given
    assert (again.rating, again.changed, again.comment) == ("down", 0, "字" * MAX_COMMENT_CHARS)
    changed = store.rate(e.id, "up", "其實有用")
    assert (changed.rating, changed.changed, changed.comment) == ("up", 1, "其實有用")
    assert store.rate(e.id, "up").changed == 1  # the same rating again: still fine
    with pytest.raises(FeedbackError, match="changed once") as twice:
        store.rate(e.id, "down")
    assert twice.value.status == 409
    assert [(f.rating, f.changed, f.comment) for f in store.feedback()] == [("up", 1, "其實有用")]


def test_retention_on_reads_daily_on_a_write_and_by_prune_log(make):
    clock = Clock()
    store = make(Limits(log_days=30), clock)
    old = entry(1, clock.now)
    store.record(old)
    store.rate(old.id, "down", "舊")
    clock.now += 30 * DAY + 60
    assert store.answers() == [] and store.feedback() == []  # past retention: never listed, pruned or not
    with pytest.raises(FeedbackError) as gone:
        store.rate(old.id, "up")
    assert gone.value.status == 404
    new = entry(2, clock.now)
    store.record(new)  # the first write of a new day prunes
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as c:
            assert c.execute("SELECT id FROM logged_answers").fetchall() == [(new.id,)]
            assert c.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0
    clock.now += 10 * DAY
    assert store.prune_log(5) == 1 and store.answers() == []
    with pytest.raises(ValueError):
        store.prune_log(0)


def test_retention_is_enforced_when_the_file_is_opened(tmp_path):
    clock = Clock()
    store = SqliteStore(tmp_path / DB_NAME, clock=clock)
    store.record(entry(1, clock.now - 40 * DAY))
    store.record(entry(2, clock.now - 10 * DAY))
    store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        assert c.execute("SELECT count(*) FROM logged_answers").fetchone()[0] == 2
    SqliteStore(tmp_path / DB_NAME, Limits(log_days=30), clock=clock).close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        assert c.execute("SELECT id FROM logged_answers").fetchall() == [(entry(2, 0).id,)]


def test_a_restart_keeps_answers_and_ratings(tmp_path):
    store = open_store(tmp_path / "data")
    e = entry(1, time.time())
    store.record(e)
    kept = store.answers()
    rating = store.rate(e.id, "down", "沒有回答到")
    store.close()
    again = open_question_log(tmp_path / "data", DEFAULT_LOG_DAYS)
    try:
        assert again.answers() == kept and again.feedback() == [rating]
        with pytest.raises(FeedbackError) as conflict:  # the change-once rule survives the restart too
            again.rate(e.id, "up")
            again.rate(e.id, "down")
        assert conflict.value.status == 409
    finally:
        again.close()


def test_the_previous_schema_is_upgraded_and_a_newer_one_refused(tmp_path):
    path = tmp_path / DB_NAME
    with sqlite3.connect(path) as c:  # the file as the previous citeqa (schema 1) left it, with a conversation
        for statement in MIGRATIONS[0]:
            c.execute(statement)
        c.execute("PRAGMA user_version = 1")
        c.execute("INSERT INTO conversations VALUES (?, '', 1e12, 1e12)", ("a" * 32,))
        c.execute("INSERT INTO turns VALUES (?, 1, '舊問題', NULL, '錯誤', 1e12)", ("a" * 32,))
    assert SCHEMA_VERSION == 2
    store = SqliteStore(path, Limits(days=3650), clock=lambda: 1e12 + 60)
    try:
        conv = store.load("a" * 32)
        assert conv is not None and conv.turns[0].question == "舊問題"
        store.record(entry(1, 1e12))
        assert [e.id for e in store.answers()] == [entry(1, 0).id]
    finally:
        store.close()
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        SqliteStore(path)


def test_the_cli_leaves_conversations_to_the_server(tmp_path):
    clock_now = time.time()
    store = open_store(tmp_path, Limits(days=365))
    store.save("b" * 32, StoredTurn(1, "問", None, "錯"), "")
    store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:  # 40 days untouched: past the default 30 days
        c.execute("UPDATE conversations SET updated = ?", (clock_now - 40 * DAY,))
    open_question_log(tmp_path, 90).close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        assert c.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1
    open_store(tmp_path).close()  # the server's default bounds (30 days) do prune it
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        assert c.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0


# --- the channels --------------------------------------------------------------------------------

QUESTION = "紀錄測試問題ZQX7：駐孟買辦事處何時揭牌？"


def engine_with(fake_engine, data_dir: Path, log: bool):
    return replace(fake_engine, settings=fake_engine.settings.with_(data_dir=data_dir, question_log=log))


def ask_by_cli(engine, monkeypatch, capsys, question: str = QUESTION) -> tuple[dict, str]:
    monkeypatch.setattr(commands, "open_engine", lambda args: engine)
    args = argparse.Namespace(question=question, json=True, top_k=None, index=None, model=None, max_chars=None,
                              kind=None, backend=None, milvus_uri=None)
    assert commands.cmd_ask(args) == 0
    printed = capsys.readouterr()
    return json.loads(printed.out), printed.err


def files_holding(root: Path, text: str) -> list[Path]:
    needle = text.encode("utf-8")
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("log", [False, True], ids=["off", "on"])
def test_the_question_is_written_only_with_the_log_on(fake_engine, tmp_path, monkeypatch, capsys, log):
    from gradio_client import Client

    data = tmp_path / "data"
    engine = engine_with(fake_engine, data, log)
    with live_server(create_app(engine, ServeSettings(data_dir=data))) as base:
        r = httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30)
        assert r.status_code == 200 and ID.fullmatch(r.json()["id"]), r.text
        api_id = r.json()["id"]
        rated = httpx.post(base + "/api/feedback", json={"id": api_id, "rating": "down"}, timeout=30)
        assert (rated.status_code, rated.json()) == ((200, {"id": api_id, "rating": "down", "changed": 0})
                                                     if log else (404, {"error": LOG_OFF}))
        cli, _ = ask_by_cli(engine, monkeypatch, capsys)  # while the server holds the file, as in real use
        chat = Client(base + "/", verbose=False, analytics_enabled=False, download_files=False)
        chat_id = chat.predict(QUESTION, api_name="/ask")["id"]  # the chat's public API: channel "chat"
        assert ID.fullmatch(chat_id)
        assert ID.fullmatch(cli["id"]) and cli["question"] == QUESTION
        assert (data / DB_NAME).exists()  # the server's store is there either way (conversations)
        holding = files_holding(data, QUESTION)  # the database, its -wal and -shm: the server is still up
        if not log:
            assert holding == []
            return
        assert holding
    store = open_question_log(data, DEFAULT_LOG_DAYS)
    try:
        got = {(e.id, e.channel, e.question) for e in store.answers()}
        assert got == {(api_id, "api", QUESTION), (cli["id"], "cli", QUESTION), (chat_id, "chat", QUESTION)}
        assert [(f.answer_id, f.rating) for f in store.feedback()] == [(api_id, "down")]
    finally:
        store.close()


def test_cli_reads_stdin_lines_and_logs_each(fake_engine, tmp_path, monkeypatch, capsys):
    import io

    engine = engine_with(fake_engine, tmp_path, True)
    monkeypatch.setattr("sys.stdin", io.StringIO("駐孟買辦事處何時揭牌？\n\n那荷蘭呢？\n"))
    monkeypatch.setattr(commands, "open_engine", lambda args: engine)
    args = argparse.Namespace(question="-", json=True, top_k=None, index=None, model=None, max_chars=None,
                              kind=None, backend=None, milvus_uri=None)
    assert commands.cmd_ask(args) == 2  # the empty line is an error object; the other two are answered
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ids = [x["id"] for x in lines if "id" in x]
    store = open_question_log(tmp_path, DEFAULT_LOG_DAYS)
    try:
        assert sorted(e.id for e in store.answers()) == sorted(ids) and len(ids) == 2
        assert {e.channel for e in store.answers()} == {"cli"}
    finally:
        store.close()


def test_a_log_that_cannot_be_written_never_costs_the_answer(fake_engine, tmp_path, monkeypatch, capsys, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    out, err = ask_by_cli(engine_with(fake_engine, blocked, True), monkeypatch, capsys)  # the store cannot open
    assert out["question"] == QUESTION and ID.fullmatch(out["id"])
    assert "question log cannot be opened" in err

    data = tmp_path / "data"
    app = create_app(engine_with(fake_engine, data, True), ServeSettings(data_dir=data))

    def broken(entry: LoggedAnswer) -> None:
        raise StoreError("the store is locked by another program")

    app.state.store.record = broken  # the routes hold the same store object
    with caplog.at_level(logging.WARNING, logger="citeqa.questions"), live_server(app) as base:
        r = httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30)
    assert r.status_code == 200 and r.json()["question"] == QUESTION
    assert any("not logged" in rec.getMessage() for rec in caplog.records)


def test_the_chat_logs_each_answer_with_its_resolved_follow_up(fake_engine):
    from citeqa.ui.chat.conversation import Chat
    from citeqa.ui.chat.session import Sessions
    from citeqa.ui.server.admission import Admission, GatedEngine

    log = MemoryStore()
    chat = Chat(GatedEngine(fake_engine, Admission(slots=1, max_waiting=4)), sessions=Sessions(),
                recorder=Recorder(log, "chat"))
    cid = chat.submit("駐孟買辦事處何時揭牌？", "", "tab-1")[4]
    asyncio.run(chat.answer(cid, "tab-1"))
    chat.submit("那荷蘭呢？", cid, "tab-1")
    asyncio.run(chat.answer(cid, "tab-1"))
    got = log.answers()
    assert [(e.channel, e.question, e.resolved) for e in got] == [
        ("chat", "駐孟買辦事處何時揭牌？", None), ("chat", "那荷蘭呢？", "駐荷蘭辦事處何時揭牌？")]
    shown = [t.answer.id for t in chat.sessions.find(cid).turns if t.answer is not None]
    assert shown == [e.id for e in got]  # the id the chat keeps is the one the log rates
    off = Chat(chat.engine, sessions=Sessions())
    cid = off.submit("駐孟買辦事處何時揭牌？", "", "tab-2")[4]
    asyncio.run(off.answer(cid, "tab-2"))
    assert off.recorder.on is False and len(log.answers()) == 2
