"""The jobs-by-state counts /metrics shows come from a summary kept in the transactions that change the
jobs (migration 12): they must always be what counting the jobs would say, on both engines."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.job import JobState
from storage.db import MIGRATIONS, StaleJob, Store
from tests.conftest import MakeBot
from tests.fakes.jobs import stored_job


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def assert_counts_match_the_jobs(store: Store, day: tuple[float, float] = (0.0, 1e12)) -> None:
    jobs = await store.jobs()
    counted = await store.scrape_counts(day)
    assert counted.by_state == dict(collections.Counter(job.state.value for job in jobs))
    assert counted.submitted == sum(1 for job in jobs if job.perf_job_id is not None)
    assert await store.count_by_state() == counted.by_state
    assert await store.count_submitted() == counted.submitted


async def test_counts_follow_admissions_slots_state_changes_and_refused_writes(store: Store) -> None:
    jobs = [stored_job(id=f"vb_count000{n}") for n in range(4)]
    for job in jobs:
        assert await store.insert_job(job)
    await assert_counts_match_the_jobs(store)
    assert await store.claim_slot(jobs[0], 2, 5.0)
    await store.update_job(jobs[1], state=JobState.QUEUED, queue_position=1)
    assert await store.claim_slot(jobs[1], 2, 6.0)
    assert not await store.claim_slot(jobs[2], 2, 7.0)  # both slots taken: nothing moves
    await store.update_job(jobs[0], state=JobState.PENDING, perf_job_id="job_c0")
    await store.update_job(jobs[0], state=JobState.PROCESSING, progress_percent=50)
    await store.update_job(jobs[0], state=JobState.DELIVERED)
    await store.update_job(jobs[1], state=JobState.QUEUED, submitted_at=None)  # Perf was busy: back in line
    await store.update_job(jobs[3], state=JobState.CANCELLED, event="cancelled")
    stale = await store.get_job(jobs[2].id, team_id=None)
    assert stale is not None
    await store.update_job(jobs[2], state=JobState.FAILED)
    with pytest.raises(StaleJob):
        await store.update_job(stale, state=JobState.CANCELLED)  # refused, so it counts nothing either
    await assert_counts_match_the_jobs(store)
    assert (await store.scrape_counts((0.0, 1e12))).by_state == {
        "delivered": 1,
        "queued": 1,
        "cancelled": 1,
        "failed": 1,
    }


async def test_counts_of_a_database_from_before_the_summary_are_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, script in enumerate(MIGRATIONS[:9], start=1):
            old.executescript(f"{script}; INSERT INTO schema_version (version) VALUES ({version});")
        for n, (state, perf_id) in enumerate((("delivered", "job_1"), ("delivered", "job_2"), ("failed", None))):
            old.execute(
                "INSERT INTO jobs (id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution, "
                "aspect_ratio, estimated_cost_micros, state, created_at, updated_at, perf_job_id, arrival) "
                "VALUES (?, 'T', 'C', 'U', 'p', 'pika', '4', '1080p', '16:9', 1, ?, 1.0, 1.0, ?, ?)",
                (f"vb_old{n}", state, perf_id, n + 1),
            )
    store = await Store.open(f"sqlite:///{path}")
    try:
        counted = await store.scrape_counts((0.0, 10.0))
        assert counted.by_state == {"delivered": 2, "failed": 1} and counted.submitted == 2
        assert counted.cost_today == {"C": 2}  # the failed job never reached Perf: it holds no quota
    finally:
        await store.close()


async def test_counts_stay_true_through_a_bot_running_jobs_to_the_end(make_bot: MakeBot) -> None:
    bot = await make_bot()
    for prompt in ("A heron", "A kite", "A lighthouse"):
        assert (await bot.command(prompt)).status == 200
    await bot.run_jobs()
    await assert_counts_match_the_jobs(bot.services.store)
