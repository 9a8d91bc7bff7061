"""The API's admission gate: a few engine calls at once, the rest in arrival order, a bounded line."""

from __future__ import annotations

import asyncio

import pytest

from citeqa.errors import Overloaded, SettingError
from citeqa.ui.server.admission import Admission


async def _settle() -> None:
    for _ in range(10):  # let every ready task run up to its next wait
        await asyncio.sleep(0)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


@pytest.mark.parametrize("slots", [1, 2])
def test_calls_beyond_the_slots_wait_and_enter_in_arrival_order(slots):
    async def scenario() -> tuple[list[str], int]:
        gate = Admission(slots=slots, max_waiting=10)
        release = asyncio.Event()
        inside: list[str] = []
        running = peak = 0

        async def call(name: str) -> None:
            nonlocal running, peak
            async with gate.admit():
                inside.append(name)
                running += 1
                peak = max(peak, running)
                await release.wait()
                await asyncio.sleep(0)  # leave one at a time, after the others have run
                running -= 1

        tasks = [asyncio.create_task(call(f"early{i}")) for i in range(slots)]
        await _settle()
        for name in ("c", "d", "e", "f"):
            tasks.append(asyncio.create_task(call(name)))
            await _settle()
        assert len(inside) == slots and gate.waiting == 4
        release.set()
        await asyncio.gather(*tasks)
        assert gate.waiting == 0
        return inside, peak

    inside, peak = _run(scenario())
    assert peak == slots
    assert inside[slots:] == ["c", "d", "e", "f"]


def test_a_full_line_is_refused_at_once_with_a_retry_after():
    async def scenario() -> None:
        gate = Admission(slots=1, max_waiting=2)
        release = asyncio.Event()

        async def hold() -> None:
            async with gate.admit():
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(3)]  # one inside, two waiting
        await _settle()
        assert gate.waiting == 2
        with pytest.raises(Overloaded) as refused:
            async with gate.admit():
                pytest.fail("a third waiting call must not get in")
        assert refused.value.waiting == 2 and refused.value.retry_after >= 1
        release.set()
        await asyncio.gather(*tasks)
        async with gate.admit():  # the line has drained: calls get in again
            assert gate.waiting == 0

    _run(scenario())


def test_a_failing_call_and_a_client_that_left_free_their_places():
    async def scenario() -> None:
        gate = Admission(slots=1, max_waiting=1)
        with pytest.raises(ZeroDivisionError):
            async with gate.admit():
                _ = 1 / 0
        release = asyncio.Event()

        async def hold() -> None:
            async with gate.admit():
                await release.wait()

        holder = asyncio.create_task(hold())
        await _settle()
        gone = asyncio.create_task(hold())  # waits, then its client disconnects
        await _settle()
        gone.cancel()
        await _settle()
        assert gate.waiting == 0
        release.set()
        await holder
        # Had either leaked its place, this would be refused (no slot free and no room to wait).
        async with gate.admit():
            pass
        assert gate.waiting == 0

    _run(scenario())


def test_engine_slots_are_checked_where_they_enter():
    from citeqa.ui.server.config import ServeSettings

    assert ServeSettings.from_env({"CITEQA_ENGINE_SLOTS": "8"}).engine_slots == 8
    for bad in ("0", "many", "5000"):
        with pytest.raises(SettingError, match="CITEQA_ENGINE_SLOTS"):
            ServeSettings.from_env({"CITEQA_ENGINE_SLOTS": bad})
