"""Retention: detail past VIDEOBOT_RETENTION_DAYS goes in small batches off the command path; jobs stay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bot.domain.quotas import Usage
from bot.domain.reports import summarize
from bot.jobs.maintenance import DAY_SECONDS, Maintenance
from storage.db import Store
from tests.conftest import CHANNEL, USER, Bot, MakeBot

RETAINED = ("job_events", "seen_requests", "home_viewers", "daily_reports")


async def counts(store: Store) -> dict[str, int]:
    found = {}
    for table in (*RETAINED, "jobs"):
        found[table] = int(await store._db.fetchval(f"SELECT COUNT(*) FROM {table}"))
    return found


async def history(bot: Bot, prompts: int, tag: str, *, signatures: bool = True) -> None:
    """Jobs run to delivery (their events), a viewer, a report claim and replay signatures, all at `now`."""
    for n in range(prompts):
        assert (await bot.command(f"{tag} heron {n}")).status == 200
    await bot.run_jobs()
    store, now = bot.services.store, bot.clock.now()
    await store.home_opened("T0001", f"U{tag}", now)
    assert await store.claim_report("T0001", "channel", CHANNEL, f"day-{tag}", now)
    # Replays past their 5-minute window are pruned by the next request's check too: retention catches
    # the ones left when no request came after them.
    for n in range(prompts if signatures else 0):
        assert await store.first_sighting(f"v0={tag}{n}", now, 300.0)


def recording(store: Store) -> list[tuple[str, int]]:
    """Each batch `forget_older` deletes, as (table, rows)."""
    batches: list[tuple[str, int]] = []
    forget: Callable[[str, float, int], Awaitable[int]] = store.forget_older

    async def recorded(table: str, before: float, limit: int) -> int:
        deleted = await forget(table, before, limit)
        batches.append((table, deleted))
        return deleted

    store.forget_older = recorded  # type: ignore[method-assign]
    return batches


async def test_retention_deletes_in_batches_exactly_what_is_past_the_window_and_never_a_job(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    store = bot.services.store
    await history(bot, 4, "old")
    old_day = bot.services.quotas.today(bot.clock.now())
    old_jobs = await store.jobs(since=old_day.start, until=old_day.end)
    old_usage = await store.usage("T0001", CHANNEL, USER, old_day.bounds)
    before = await counts(store)
    bot.clock.advance(401 * DAY_SECONDS)
    await history(bot, 2, "new", signatures=False)
    young = {t: n - before[t] for t, n in (await counts(store)).items()}

    batches = recording(store)
    deleted = await Maintenance(store, bot.clock, 400, batch_rows=3).run()

    assert deleted == {t: before[t] for t in RETAINED}
    assert await counts(store) == {**young, "jobs": before["jobs"] + young["jobs"]}
    # Three rows a transaction, until a batch comes back short.
    assert all(rows <= 3 for _, rows in batches) and [t for t, _ in batches].count("job_events") > 2
    # Quotas, reports and exports read the jobs table: the old day adds up as before.
    assert await store.jobs(since=old_day.start, until=old_day.end) == old_jobs
    assert await store.usage("T0001", CHANNEL, USER, old_day.bounds) == old_usage != Usage(0, 0, 0)
    assert summarize(await store.jobs(since=old_day.start, until=old_day.end), "d") == summarize(old_jobs, "d")
    # The young events are all there: a job's history of the last 400 days still reads whole.
    newest = max(await store.jobs(), key=lambda job: job.created_at)
    assert [state for _, state, _ in await store.job_events(newest.id)][-1] == newest.state.value


async def test_a_row_exactly_400_days_old_stays_and_goes_a_second_later(make_bot: MakeBot) -> None:
    bot = await make_bot()
    store = bot.services.store
    await history(bot, 1, "edge")
    before = await counts(store)
    oldest = float(await store._db.fetchval("SELECT MIN(at) FROM job_events"))
    bot.clock.t = oldest + 400 * DAY_SECONDS
    assert await Maintenance(store, bot.clock, 400).run() == dict.fromkeys(RETAINED, 0)
    assert await counts(store) == before
    bot.clock.advance(1)
    at_oldest = int(await store._db.fetchval("SELECT COUNT(*) FROM job_events WHERE at = ?", oldest))
    assert (await Maintenance(store, bot.clock, 400).run())["job_events"] == at_oldest > 0


async def test_retention_0_keeps_everything(make_bot: MakeBot) -> None:
    bot = await make_bot(retention_days=0)
    await history(bot, 2, "kept")
    before = await counts(bot.services.store)
    bot.clock.advance(10_000 * DAY_SECONDS)
    assert await bot.services.maintenance.run() == {}
    assert await counts(bot.services.store) == before


async def test_maintenance_is_a_scheduled_job_of_the_poller_and_no_command_runs_it(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert bot.services.maintenance.run in bot.services.poller.scheduled_tasks()
    batches = recording(bot.services.store)
    bot.clock.advance(500 * DAY_SECONDS)
    await history(bot, 2, "cmd")
    await bot.command("status")
    assert batches == []
    await bot.services.maintenance.run()
    assert {t for t, _ in batches} == set(RETAINED)


@pytest.mark.parametrize("days", [7, 400])
async def test_the_replay_window_and_todays_report_claim_outlive_any_retention(make_bot: MakeBot, days: int) -> None:
    bot = await make_bot(retention_days=days)
    store, now = bot.services.store, bot.clock.now()
    assert await store.first_sighting("v0=fresh", now, 300.0)
    assert await store.claim_report("T0001", "channel", CHANNEL, "today", now)
    await bot.services.maintenance.run()
    assert not await store.first_sighting("v0=fresh", now + 299, 300.0)
    assert not await store.claim_report("T0001", "channel", CHANNEL, "today", now + 1)


async def test_a_stop_during_the_start_up_maintenance_ends_it_quietly(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A deploy that stops the bot while its start-up maintenance runs: the run stops, with one line and no
    traceback (APScheduler logs a cancelled job as one that raised)."""
    caplog.set_level(logging.INFO)
    bot = await make_bot()
    poller = bot.services.poller
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def long_maintenance() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    poller.run_daily((3, 0), "UTC", long_maintenance)
    poller.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    await poller.stop(0.0)
    assert cancelled.is_set()
    assert "event=scheduled_task_stopped task=long_maintenance" in caplog.text
    # (asyncpg's pool may leave an unrelated "Future exception was never retrieved" on the asyncio logger.)
    complaints = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("videobot", "apscheduler"))
    ]
    assert not complaints, caplog.text
    assert not [r for r in caplog.records if r.exc_info and r.name != "asyncio"], caplog.text
