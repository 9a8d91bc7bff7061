"""The conversation store: round trips, restarts, bounds, schema versions, concurrent writers, bad files.

One suite runs over both implementations (SQLite and memory); what only a file can do (restart,
permissions, versions, damage, locks) is tested on SQLite alone.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from dataclasses import replace

import pytest

from citeqa.corpus import Passage
from citeqa.errors import SettingError
from citeqa.qa.types import Answer, Hit, Outcome
from citeqa.store import DB_NAME, Limits, StoredTurn, StoreError, open_store
from citeqa.store import sqlite as sqlite_store
from citeqa.store.memory import MemoryStore
from citeqa.store.sqlite import SCHEMA_VERSION, SqliteStore
from citeqa.ui.chat.session import MAX_TURNS, REPEAT_S, Conversation, Sessions
from citeqa.ui.server.config import ServeSettings

DAY = 24 * 3600
CID = "0123456789abcdef0123456789abcdef"


class Clock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def an_answer(n: int = 1) -> Answer:
    text = "駐孟買辦事處於2024年揭牌。"
    p = Passage(f"doc-{n}", "外交.pdf", ("總合外交", "經貿"), f"第 {n} 段", text, 10, 24, page=3)
    q = Passage("doc-b", "外交.md", (), "B", "另一段", 0, 3)
    return Answer("駐孟買辦事處何時揭牌？", f"2024年揭牌[1]{n}。", True, (Hit(p, 0.8125, 2, 8), Hit(q, 0.5)),
                  confidence=0.75, resolved="駐孟買辦事處何時揭牌？", follows=True)


@pytest.fixture(params=["sqlite", "memory"])
def make(request, tmp_path):
    """``make(limits, clock)`` → a store of the parametrized kind, in tmp_path (closed after the test)."""
    made = []

    def build(limits: Limits | None = None, clock: Clock | None = None):
        kwargs = {"clock": clock} if clock else {}
        s = (SqliteStore(tmp_path / DB_NAME, limits, **kwargs) if request.param == "sqlite"
             else MemoryStore(limits, **kwargs))
        made.append(s)
        return s

    yield build
    for s in made:
        s.close()


def test_answer_and_hit_round_trip_through_their_dicts():
    a = an_answer()
    back = Answer.from_dict({**a.to_dict(), "follows": True})
    assert back == a and back.citations[0].passage.page == 3 and back.citations[1].quote_start is None
    plain = Answer("天氣？", "文件中沒有提到。", False, (), confidence=None)
    assert Answer.from_dict(plain.to_dict()) == plain and plain.outcome is Outcome.NOT_FOUND
    for h in a.citations:
        assert Hit.from_dict(h.to_dict()) == h


def test_a_turn_round_trips_and_an_unknown_id_creates_nothing(make):
    store = make()
    assert store.load(CID) is None and store.count() == 0  # a look-up never creates
    store.save(CID, StoredTurn(1, "駐孟買辦事處何時揭牌？", an_answer()), anchor="駐孟買辦事處何時揭牌？")
    store.save(CID, StoredTurn(2, "那荷蘭呢？", error="目前提問的人很多，請 1 秒後再試一次。"), anchor="錨")
    conv = store.load(CID)
    assert conv is not None and conv.anchor == "錨" and [t.number for t in conv.turns] == [1, 2]
    assert conv.turns[0].answer == an_answer() and conv.turns[0].error is None
    assert conv.turns[1].answer is None and conv.turns[1].error.startswith("目前提問的人很多")
    store.save(CID, StoredTurn(2, "那荷蘭呢？", an_answer(2)), anchor="錨")  # the same turn again: replaced
    assert [t.answer for t in store.load(CID).turns] == [an_answer(), an_answer(2)]
    store.delete(CID)
    assert store.load(CID) is None and store.count() == 0


def test_bounds_turns_count_and_age(make):
    clock = Clock()
    store = make(Limits(max_turns=3, max_conversations=2, days=30), clock)
    for n in range(1, 6):
        store.save("a" * 32, StoredTurn(n, f"問{n}", an_answer(n)), "")
    assert [t.number for t in store.load("a" * 32).turns] == [3, 4, 5]  # the last three turns
    clock.now += 10
    store.save("b" * 32, StoredTurn(1, "問", an_answer()), "")
    clock.now += 10
    store.save("c" * 32, StoredTurn(1, "問", an_answer()), "")  # a third: the least recently updated goes
    assert store.load("a" * 32) is None and store.count() == 2
    clock.now += 29 * DAY
    store.save("c" * 32, StoredTurn(2, "又問", an_answer()), "")
    clock.now += 1 * DAY + 60
    assert store.load("b" * 32) is None  # untouched for 30 days: gone, even before it is pruned
    assert store.load("c" * 32) is not None
    assert store.prune() == 1 and store.count() == 1


def test_a_restart_keeps_conversations_and_the_file_is_private(tmp_path):
    data = tmp_path / "data"
    store = open_store(data)
    store.save(CID, StoredTurn(1, "駐孟買辦事處何時揭牌？", an_answer()), "駐孟買辦事處何時揭牌？")
    store.close()
    path = data / DB_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(data.stat().st_mode) == 0o700
    again = open_store(data)
    try:
        conv = again.load(CID)
        assert conv is not None and conv.turns[0].answer == an_answer() and conv.anchor == "駐孟買辦事處何時揭牌？"
    finally:
        again.close()
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused_with_its_version(tmp_path):
    SqliteStore(tmp_path / DB_NAME).close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this citeqa knows"):
        SqliteStore(tmp_path / DB_NAME)


def test_a_damaged_or_locked_file_is_a_clear_store_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad" / DB_NAME
    bad.parent.mkdir()
    bad.write_bytes(b"this is not SQLite at all" * 100)
    with pytest.raises(StoreError, match=r"is damaged .*move it away"):
        SqliteStore(bad)
    monkeypatch.setattr(sqlite_store, "BUSY_S", 0.2)
    store = SqliteStore(tmp_path / DB_NAME)
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        with pytest.raises(StoreError, match="is locked by another program"):
            store.save(CID, StoredTurn(1, "問", an_answer()), "")
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.save(CID, StoredTurn(1, "問", an_answer()), "")  # the failed write left nothing half done
    assert len(store.load(CID).turns) == 1
    store.close()


def test_concurrent_writers_from_threads_lose_nothing(make):
    store = make()
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for n in range(1, 21):
                store.save(f"{t:032x}", StoredTurn(n, f"問{n}", an_answer(n)), f"錨{t}")
                assert store.load(f"{t:032x}") is not None  # reads run beside the writes
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors and store.count() == 8
    for t in range(8):
        conv = store.load(f"{t:032x}")
        assert [x.number for x in conv.turns] == list(range(1, 21)) and conv.anchor == f"錨{t}"


def test_sessions_read_through_the_store_after_a_restart(tmp_path):
    """An id is taken back after a restart only if the store has it; a made-up one creates nothing."""
    first = Sessions(open_store(tmp_path))
    cid = first.resolve("tab-1", "")
    conv = first.get(cid)
    conv.add("駐孟買辦事處何時揭牌？")
    conv.record(conv.turns[0], replace(an_answer(), follows=False))  # stands on its own: the anchor
    first.save(cid, conv, conv.turns[0])
    first.store.close()

    second = Sessions(open_store(tmp_path), limit=1)  # a new server, nothing cached
    assert second.resolve("tab-9", cid) == cid  # the browser's stored id, from the store
    back = second.find(cid)
    assert back.asked == 1 and back.turns[0].answer == conv.turns[0].answer and back.anchor == "駐孟買辦事處何時揭牌？"
    made_up = "f" * 32
    assert second.resolve("tab-8", made_up) != made_up and second.resolve(None, made_up) != made_up
    assert second.find(made_up).turns == [] and second.store.load(made_up) is None and second.store.count() == 1
    second.drop(cid)
    assert second.store.load(cid) is None and second.resolve(None, cid) != cid
    second.store.close()


def test_memory_holds_at_most_the_last_turns_and_a_double_send_is_one_question():
    conv = Conversation()
    assert conv.add("一") and not conv.add("一")  # the same at once, still waiting: a double Enter
    conv.turns[0].asked_at -= REPEAT_S
    assert conv.add("一")  # later: asked again on purpose
    conv.turns[-1].error = "拒絕"
    assert conv.add("一")  # answered (here refused): asking again is a new question
    for i in range(MAX_TURNS + 5):
        conv.add(str(i))
    assert len(conv.turns) == MAX_TURNS and conv.turns[-1].number == conv.asked == MAX_TURNS + 8


def test_a_store_that_fails_is_said_in_chinese_not_raised(fake_engine):
    from citeqa.ui.chat.conversation import Chat
    from citeqa.ui.server.admission import Admission, GatedEngine

    class Unwritable(MemoryStore):
        def save(self, cid, turn, anchor):
            raise StoreError("the conversation store x is damaged")

    class Unreadable(Unwritable):
        def load(self, cid):
            raise StoreError("the conversation store x is locked by another program")

    gated = GatedEngine(fake_engine, Admission(slots=1, max_waiting=4))
    chat = Chat(gated, sessions=Sessions(Unreadable()))
    box, messages, _, status, cid = chat.submit("駐孟買辦事處何時揭牌？", CID)
    assert box == "駐孟買辦事處何時揭牌？" and "對話紀錄" in status and cid == CID  # the question stays in the box
    messages, _, cid = chat.restore(CID)
    assert messages == [] and cid == CID  # the browser keeps its id for when the store is back
    chat = Chat(gated, sessions=Sessions(Unwritable()))
    box, _, _, status, cid = chat.submit("駐孟買辦事處何時揭牌？", "")
    messages, _ = asyncio.run(chat.answer(cid))
    assert status == "" and len(messages) == 2 and "citeqa-answer" in messages[1]["content"]  # shown, unsaved


def test_the_conversation_days_setting_is_checked_where_read(tmp_path):
    s = ServeSettings.from_env({"CITEQA_CONVERSATION_DAYS": " 7 ", "CITEQA_DATA_DIR": str(tmp_path)})
    assert s.conversation_days == 7 and s.data_dir == tmp_path
    default = ServeSettings.from_env({})
    assert default.conversation_days == 30 and default.data_dir is not None and default.data_dir.name == "citeqa"
    assert ServeSettings().data_dir is None  # code and tests: conversations in memory unless a folder is named
    for bad in ("0", "-1", "3651", "thirty", "1.5"):
        with pytest.raises(SettingError, match="CITEQA_CONVERSATION_DAYS"):
            ServeSettings.from_env({"CITEQA_CONVERSATION_DAYS": bad})
    with pytest.raises(SettingError):
        ServeSettings(conversation_days=True)  # type: ignore[arg-type]
    assert not os.listdir(tmp_path)  # reading settings writes nothing
