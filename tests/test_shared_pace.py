"""Issue 27: replicas on PostgreSQL take Slack's budget from one bucket per workspace lane (`slack_buckets`).

Each `Store` opened here is a replica's: its own pool on the same database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.clients.pacing import Cell, Pacer, Priority, Ticket
from bot.jobs.maintenance import Maintenance
from bot.runtime.app import StoreBudget
from storage.db import Store
from tests.conftest import FakeClock
from tests.fakes.databases import POSTGRES_URL, fresh_database

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PostgreSQL: set VIDEOBOT_TEST_POSTGRES_URL (CI does, with .ci/postgres)"
)

CELL = 2.0  # one call every 2 s: nothing in a test refills meanwhile
LANE = "T0001:chat.update"


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    async with fresh_database("postgresql", tmp_path) as url:
        first, second = await Store.open(url), await Store.open(url, migrate=False)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()


async def test_cells_are_granted_within_the_burst_across_replicas_then_the_wait_is_named(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    # A burst of 3: whichever replica asks, three cells and no more.
    granted = [await store.take_slack_cells([(LANE, CELL, 3 * CELL)]) for store in (a, b, a)]
    assert granted == [0.0, 0.0, 0.0]
    wait = await b.take_slack_cells([(LANE, CELL, 3 * CELL)])
    assert CELL * 0.8 < wait <= CELL  # about one cell from now, less what passed since the first
    # Another workspace's lane, or another channel's, is a bucket of its own.
    assert await a.take_slack_cells([("T0002:chat.update", CELL, 3 * CELL)]) == 0.0
    # A refusal takes nothing: the bucket is as full as it was.
    assert CELL * 0.8 < await a.take_slack_cells([(LANE, CELL, 3 * CELL)]) <= CELL


async def test_a_post_takes_its_channels_cell_and_the_workspaces_together_in_one_round_trip(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    channel, workspace = "T0001:chat.postMessage@C1", "T0001:chat.postMessage"
    # Another replica's posts in other channels have used the workspace's burst of 2.
    for other in ("C2", "C3"):
        assert await b.take_slack_cells([(f"{workspace}@{other}", CELL, 2 * CELL), (workspace, CELL, 2 * CELL)]) == 0
    # This post waits for the workspace's bucket, and takes nothing of its channel's meanwhile.
    assert await a.take_slack_cells([(channel, CELL, 2 * CELL), (workspace, CELL, 2 * CELL)]) > CELL * 0.8
    assert await a._db.fetchval("SELECT COUNT(*) FROM slack_buckets WHERE bucket = ?", channel) == 0
    # Through the pacer: one round trip per post while the buckets have room.
    pacer = Pacer(scale=60 / CELL, shared=StoreBudget(a))
    for n in range(2):
        await pacer.turn("chat.postMessage", f"C{n + 10}", Ticket(Priority.ROOT))
    await pacer.close()
    assert pacer.shared_use.round_trips == pacer.shared_use.calls == 2


async def test_a_background_call_leaves_a_cell_for_an_urgent_one_of_another_replica(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    scale = 60 / (100 * CELL)  # Tier 4 (100 a minute, a burst of 8), here one call every 2 s
    pacer_a, pacer_b = Pacer(scale=scale, shared=StoreBudget(a)), Pacer(scale=scale, shared=StoreBudget(b))
    lane = "chat.postEphemeral"
    # Replica A's background calls (App Home tabs) take the burst but one cell, then wait.
    background = [asyncio.create_task(pacer_a.turn(lane, "", Ticket(Priority.BACKGROUND))) for _ in range(8)]
    await wait_until(lambda: sum(t.done() for t in background) == 7 and pacer_a.shared_use.round_trips >= 8)
    assert sum(t.done() for t in background) == 7, "one of the eight waits: the last cell is the reserve"
    # Replica B's private answer goes at once, on the reserve, however many background calls wait on A.
    await asyncio.wait_for(pacer_b.turn(lane, "", Ticket(Priority.URGENT)), timeout=CELL / 2)
    assert not all(t.done() for t in background)
    for task in background:
        task.cancel()
    await pacer_a.close()
    await pacer_b.close()


async def test_a_429_on_one_replica_holds_the_lane_on_every_replica(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    pacer_a, pacer_b = Pacer(scale=60, shared=StoreBudget(a)), Pacer(scale=60, shared=StoreBudget(b))
    await pacer_a.hold("chat.update", "", 30.0)  # Slack's Retry-After on replica A
    # Replica B has never called: its own lane is free, the shared one is held for everyone.
    wait = await b.take_slack_cells([("chat.update", 1.2, 4.8)])
    assert 29 < wait <= 30
    turn = asyncio.create_task(pacer_b.turn("chat.update", "", Ticket(Priority.URGENT)))
    await wait_until(lambda: pacer_b.shared_use.round_trips >= 1)
    await asyncio.sleep(0)
    assert not turn.done(), "B waits out A's 429"
    turn.cancel()
    await pacer_a.close()
    await pacer_b.close()


async def test_the_bucket_runs_on_the_database_clock(replicas: tuple[Store, Store]) -> None:
    a, _ = replicas
    assert await a.take_slack_cells([(LANE, CELL, 2 * CELL)]) == 0.0
    db_now = float(await a._db.fetchval("SELECT EXTRACT(EPOCH FROM clock_timestamp())"))
    tat = float(await a._db.fetchval("SELECT tat FROM slack_buckets WHERE bucket = ?", LANE))
    assert db_now < tat <= db_now + CELL  # the cell taken, counted from the database's now
    # A bucket 10 s ahead of the database's clock (whatever this process's clock says) waits 10 s less its room.
    await a._db.execute(
        "UPDATE slack_buckets SET tat = EXTRACT(EPOCH FROM clock_timestamp()) + 10 WHERE bucket = ?", LANE
    )
    assert 10 + CELL - 2 * CELL - 0.5 < await a.take_slack_cells([(LANE, CELL, 2 * CELL)]) <= 10 + CELL - 2 * CELL


class Unreachable:
    async def take(self, cells: Sequence[Cell]) -> float:
        raise ConnectionRefusedError("database down")

    async def hold(self, lane: str, seconds: float) -> None:
        raise ConnectionRefusedError("database down")


async def test_a_database_that_does_not_answer_leaves_the_call_at_the_local_pace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacer = Pacer(scale=60, shared=Unreachable())
    with caplog.at_level(logging.WARNING, logger="videobot.pacing"):
        await asyncio.wait_for(pacer.turn("chat.update", "C1", Ticket(Priority.URGENT)), timeout=5)
        await pacer.hold("chat.update", "", 1.0)
    lines = [r.getMessage() for r in caplog.records if "slack_pace_local" in r.getMessage()]
    assert lines == ["event=slack_pace_local lane=chat.update reason=ConnectionRefusedError"]
    assert pacer.shared_use.fallbacks == 2
    await pacer.close()


async def wait_until(condition: object, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    assert callable(condition)
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_the_maintenance_run_forgets_buckets_idle_for_an_hour_and_keeps_the_others(
    replicas: tuple[Store, Store],
) -> None:
    a, _ = replicas
    assert await a.take_slack_cells([(LANE, CELL, 3 * CELL)]) == 0.0
    assert await a.take_slack_cells([("T0001:chat.postMessage@C0IDLE", CELL, 3 * CELL)]) == 0.0
    await a.hold_slack_bucket("T0002:chat.update", 7200.0)  # held by a 429 for two hours: kept while held
    async with a._engine.transaction() as db:  # the channel's bucket last used two hours ago
        await db.execute("UPDATE slack_buckets SET tat = tat - 7200 WHERE bucket = ?", "T0001:chat.postMessage@C0IDLE")
    await Maintenance(a, FakeClock(1_000_000.0), 400).run()
    async with a._engine.transaction() as db:
        left = sorted(
            str(row[0])
            for row in await db.fetch(
                "SELECT bucket FROM slack_buckets",
            )
        )
    assert left == [LANE, "T0002:chat.update"]
