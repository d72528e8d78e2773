"""Leases: one replica at a time advances a job; a slow one keeps it, a dead one loses it. On both engines."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.job import Job, JobState
from storage.db import MIGRATIONS, StaleJob, Store
from tests.conftest import MakeBot
from tests.fakes.jobs import stored_job

LEASE = 30.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def test_a_due_job_goes_to_one_replica_and_a_live_lease_is_never_taken(store: Store) -> None:
    await store.insert_job(stored_job(id="vb_lease00001", next_poll_at=100.0))
    first, second = await asyncio.gather(
        store.claim_due(100.0, 10, "replica-a", LEASE), store.claim_due(100.0, 10, "replica-b", LEASE)
    )
    assert sorted(len(claimed) for claimed in (first, second)) == [0, 1]
    holder = "replica-a" if first else "replica-b"
    other = "replica-b" if first else "replica-a"
    # Slow, not dead: just before the lease ends it is still the holder's.
    assert await store.claim_due(100.0 + LEASE - 0.01, 10, other, LEASE) == []
    # Renewed past half its length, the lease outlives its first end.
    assert await store.renew_leases(holder, 100.0 + LEASE * 0.6, LEASE) == 1
    assert await store.claim_due(100.0 + LEASE + 1, 10, other, LEASE) == []
    # A job nobody holds is not what the poller's timer waits for: its holder wakes itself.
    assert await store.next_due_at() is None


async def test_a_dead_replicas_job_is_taken_once_its_lease_lapses_and_its_late_writes_are_refused(
    store: Store,
) -> None:
    await store.insert_job(stored_job(id="vb_lease00002", next_poll_at=100.0))
    [stale] = await store.claim_due(100.0, 10, "replica-dead", LEASE)
    [taken] = await store.claim_due(100.0 + LEASE, 10, "replica-alive", LEASE)
    assert taken.id == stale.id and taken.lease_owner == "replica-alive"
    # The first holder wakes up and writes: refused, so it cannot undo what the new holder does.
    with pytest.raises(StaleJob):
        await store.update_job(stale, lease=stale.lease_owner, state=JobState.PENDING, perf_job_id="job_x")
    assert not await store.release_lease(stale, "replica-dead")
    await store.update_job(taken, lease=taken.lease_owner, state=JobState.PENDING, perf_job_id="job_y")
    assert await store.release_lease(taken, "replica-alive")
    reread = await store.get_job(taken.id, team_id=None)
    assert reread is not None and reread.perf_job_id == "job_y" and reread.lease_owner is None
    assert await store.next_due_at() == 100.0


async def test_a_clean_shutdown_hands_its_jobs_over_at_once(store: Store) -> None:
    for n in range(3):
        await store.insert_job(stored_job(id=f"vb_lease1000{n}", next_poll_at=100.0))
    assert len(await store.claim_due(100.0, 2, "replica-a", LEASE)) == 2
    assert await store.release_all_leases("replica-a") == 2
    assert len(await store.claim_due(100.5, 10, "replica-b", LEASE)) == 3


async def test_jobs_keep_their_arrival_order_and_migrations_are_idempotent(store: Store) -> None:
    for n in range(5):
        await store.insert_job(stored_job(id=f"vb_order000{n}", created_at=7.0))  # one instant, five jobs
    assert [j.id for j in await store.jobs()] == [f"vb_order000{n}" for n in range(5)]
    assert [j.arrival for j in await store.jobs()] == [1, 2, 3, 4, 5]
    assert await store.migrate() == [] and await store.schema_version() == len(MIGRATIONS)


async def test_a_sqlite_database_from_before_replicas_keeps_its_queue_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, script in enumerate(MIGRATIONS[:7], start=1):
            old.executescript(f"{script}; INSERT INTO schema_version (version) VALUES ({version});")
        for n, created in enumerate((5.0, 3.0, 3.0)):
            old.execute(
                "INSERT INTO jobs (id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution, "
                "aspect_ratio, estimated_cost_micros, state, created_at, updated_at) "
                "VALUES (?, 'T', 'C', 'U', 'p', 'pika', '4', '1080p', '16:9', 1, 'queued', ?, ?)",
                (f"vb_old{n}", created, created),
            )
    store = await Store.open(f"sqlite:///{path}")
    try:
        assert [(j.id, j.arrival) for j in await store.jobs()] == [("vb_old1", 1), ("vb_old2", 2), ("vb_old0", 3)]
        new = stored_job(id="vb_new", created_at=9.0)
        await store.insert_job(new)
        assert new.arrival == 4
    finally:
        await store.close()


async def test_a_job_taken_again_the_moment_its_lease_is_released_is_still_waited_for(make_bot: MakeBot) -> None:
    bot = await make_bot()
    poller, store = bot.services.poller, bot.services.store
    assert (await bot.command("A heron")).status == 200
    release = store.release_lease
    ticked_between: list[bool] = []

    async def release_then_a_tick_lands(job: Job, owner: str) -> bool:
        released = await release(job, owner)
        if not ticked_between:
            ticked_between.append(True)
            # The job's next poll is due, and a tick takes it before the step that released it has returned.
            bot.clock.advance(60)
            await poller.tick()
        return released

    # Patching one method of the live store: mypy forbids assigning to a method, the test means to.
    store.release_lease = release_then_a_tick_lands  # type: ignore[method-assign]
    await poller.tick()
    await poller.wait_idle()
    assert ticked_between
    # Whatever took the job in between has finished too: nobody holds it, and its second step ran.
    [job] = await store.jobs()
    assert job.lease_owner is None
    assert len(bot.perf.polls) == 1
