"""PostgreSQL admissions hold their locks for the fewest waits on the event loop (issue 31).

Every round trip of a transaction waits for the event loop to send the next statement; on a busy loop the
transaction sits "idle in transaction" meanwhile, holding the admission lock and job_counts' rows that every
other admission and job update waits for. An admission group is now four round trips whatever its size:
BEGIN with the lock, its reads as one statement, the jobs' rows (bound), the rest of its writes with the
COMMIT; a slot claim and a job's update end with their counters and the COMMIT in one."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.domain.job import JobState
from bot.domain.quotas import ChannelLimits, Day, Usage
from storage.db import StaleJob, Store
from storage.postgres import PostgresEngine
from tests.fakes.databases import POSTGRES_URL, fresh_database
from tests.fakes.jobs import stored_job

TODAY = Day(start=0.0, end=86_400.0, label="1970-01-01")
MONTH = (0.0, 31 * 86_400.0)
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="needs VIDEOBOT_TEST_POSTGRES_URL")


class _Recorded:
    """An asyncpg connection that notes the text of each round trip before making it."""

    def __init__(self, db: Any, trips: list[str]) -> None:
        self._db = db
        self._trips = trips

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._db, name)
        if name not in ("execute", "fetch", "fetchrow", "fetchval"):
            return method

        async def recorded(sql: str, *args: Any, **kwargs: Any) -> Any:
            self._trips.append(sql)
            return await method(sql, *args, **kwargs)

        return recorded


@contextlib.asynccontextmanager
async def recording(store: Store) -> AsyncIterator[list[str]]:
    engine = store._engine
    assert isinstance(engine, PostgresEngine)
    trips: list[str] = []
    plain = engine.connection

    @contextlib.asynccontextmanager
    async def connection() -> AsyncIterator[Any]:
        async with plain() as db:
            yield _Recorded(db, trips)

    engine.connection = connection  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        engine.connection = plain  # type: ignore[method-assign]


def allow(_: Usage, __: ChannelLimits | None) -> None:
    pass


@needs_postgres
async def test_an_admission_group_holds_the_lock_for_three_round_trips_whatever_its_size(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await Store.open(url)
        try:
            secret = "https://hooks.slack.com/commands/T0001/1/s3cret"
            jobs = [
                stored_job(
                    user_id=f"U{n % 5}", channel_id=f"C{n % 3}", created_at=10.0, response_url=secret, step_token=secret
                )
                for n in range(40)
            ]
            async with recording(store) as trips:
                admitted = await asyncio.gather(
                    *(
                        # Every read an admission can make: quotas, money, the account's day, a trigger.
                        store.insert_job(
                            job,
                            trigger=f"reaction:C1:{n}.0:U1",
                            day=TODAY.bounds,
                            check=allow,
                            month=MONTH,
                            count_account=True,
                        )
                        for n, job in enumerate(jobs)
                    )
                )
            assert admitted == [True] * 40
            locked = [n for n, sql in enumerate(trips) if "pg_advisory_xact_lock" in sql]
            assert locked, trips
            for start in locked:
                # The lock goes out with BEGIN; then the reads; the jobs' rows, bound; the rest with the COMMIT.
                assert trips[start].startswith("BEGIN")
                held = trips[start + 1 : start + 4]
                assert held[0].startswith("SELECT ARRAY("), trips
                assert held[1].startswith("INSERT INTO jobs "), trips
                assert held[2].rstrip().endswith("COMMIT"), trips
            assert len(trips) == 4 * len(locked)
            # The jobs' response_url and step token never in the text of a statement (a server's log of it).
            assert not any("s3cret" in sql for sql in trips)
            assert (await store.usage("T0001", "C0", "U0", TODAY.bounds)).channel_jobs == 14
            assert (await store.get_job(jobs[-1].id, team_id=None)) is not None
        finally:
            await store.close()


PROMPTS = [
    "it's a cat's \"dream\"",
    "C:\\videos\\new\\ and a trailing backslash \\",
    "\\'; DROP TABLE jobs; --",
    "$$ dollar $tag$ quotes $$",
    "question? marks? ?",
    "multi\nline\r\nand\ttabs",
    "ünïcödé 日本語の猫 🐈",
    "E'not an escape' U&'d\\0061t\\+000061'",
]


async def test_prompts_and_times_come_back_exactly_as_the_admission_stored_them(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        # A time with every digit a double holds, and prompts made of what quoting gets wrong.
        created_at = 1_733_241_600.123_456_7
        jobs = [stored_job(prompt=prompt, created_at=created_at) for prompt in PROMPTS]
        admitted = await asyncio.gather(
            *(
                store.insert_job(job, trigger=f"shortcut:{prompt}", day=(0.0, 2e9), check=allow)
                for job, prompt in zip(jobs, PROMPTS, strict=True)
            )
        )
        assert admitted == [True] * len(PROMPTS)
        for job, prompt in zip(jobs, PROMPTS, strict=True):
            stored = await store.get_job(job.id, team_id=None)
            assert stored is not None
            assert stored.prompt == prompt
            assert stored.created_at == created_at
        # The triggers are stored as given: the same one again starts nothing.
        again = stored_job(prompt="again", created_at=created_at)
        assert await store.insert_job(again, trigger=f"shortcut:{PROMPTS[2]}") is False
        assert await store.job_count() == len(PROMPTS)
    finally:
        await store.close()


@needs_postgres
async def test_finishing_writes_any_value_as_given_and_a_failed_finish_stores_nothing(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await Store.open(url)
        try:
            engine = store._engine
            async with engine.transaction() as db:
                await db.batch(("CREATE TABLE t (k BIGINT PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, s TEXT)", ()))
            values = [
                (1, -5, -0.5, None),
                (2, 0, math.inf, ""),
                (3, 2**62, -math.inf, "a'b"),
                (4, 1, 1e-300, "x\\"),
            ]
            async with engine.transaction() as db:
                await db.finish(
                    *(("INSERT INTO t (k, i, f, s) VALUES (?, ?, ?, ?)", row) for row in values),
                    # A negative number after a minus: never read as the start of a comment.
                    ("UPDATE t SET i = i - ? WHERE k = ?", (-7, 1)),
                )
            rows = await engine.reads.fetch("SELECT k, i, f, s FROM t ORDER BY k")
            assert [(row[0], row[1], row[2], row[3]) for row in rows] == [(1, 2, -0.5, None), *values[1:]]
            with pytest.raises(asyncpg.UniqueViolationError):
                async with engine.transaction() as db:
                    await db.batch(("INSERT INTO t (k) VALUES (?)", (9,)))
                    await db.finish(("INSERT INTO t (k) VALUES (?)", (10,)), ("INSERT INTO t (k) VALUES (?)", (1,)))
            assert [row[0] for row in await engine.reads.fetch("SELECT k FROM t ORDER BY k")] == [1, 2, 3, 4]
        finally:
            await store.close()


@needs_postgres
async def test_a_job_update_locks_the_counters_rows_only_in_the_round_trip_that_commits(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await Store.open(url)
        try:
            job = stored_job(prompt="a cat's $videobot_block$ dream", created_at=10.0)
            assert await store.insert_job(job)
            stale = await store.get_job(job.id, team_id=None)
            async with recording(store) as trips:
                await store.update_job(job, state=JobState.QUEUED, queue_position=1, event="queued")
            # BEGIN, then the update, the counters, the event and the COMMIT in one.
            assert len(trips) == 2 and trips[0] == "BEGIN", trips
            assert trips[1].startswith("DO ") and trips[1].rstrip().endswith("COMMIT"), trips
            assert stale is not None
            with pytest.raises(StaleJob):
                await store.update_job(stale, state=JobState.CANCELLED, event="cancelled")
            assert (await store.scrape_counts((0.0, 1e12))).by_state == {"queued": 1}
            assert [state for _, state, _ in await store.job_events(job.id)] == ["accepted", "queued"]
            # A value that holds the block's own quote goes the plain way, as exactly.
            moved = await store.get_job(job.id, team_id=None)
            assert moved is not None
            await store.update_job(moved, state=JobState.FAILED, error_message="a $videobot_block$ in Perf's answer")
            failed = await store.get_job(job.id, team_id=None)
            assert failed is not None and failed.error_message == "a $videobot_block$ in Perf's answer"
            assert (await store.scrape_counts((0.0, 1e12))).by_state == {"failed": 1}
        finally:
            await store.close()


@needs_postgres
async def test_a_slot_claim_holds_the_lock_for_two_round_trips_and_a_stale_one_moves_nothing(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await Store.open(url)
        try:
            alice = [stored_job(user_id="UALICE", created_at=float(n)) for n in range(1, 4)]
            for job in alice:
                assert await store.insert_job(job)
            stale = await store.get_job(alice[1].id, team_id=None)
            async with recording(store) as trips:
                assert await store.claim_slot(alice[0], 2, 10.0)
            assert trips[0].startswith("BEGIN") and "pg_advisory_xact_lock" in trips[0], trips
            assert trips[1].startswith("SELECT ARRAY("), trips
            assert trips[2].startswith("DO ") and trips[2].rstrip().endswith("COMMIT"), trips
            assert len(trips) == 3, trips
            await store.update_job(alice[1], state=JobState.CANCELLED, event="cancelled")
            assert stale is not None
            # Its turn, a free slot, but no longer waiting: the fence refuses it, and nothing moves.
            assert not await store.claim_slot(stale, 2, 11.0)
            assert await store.claim_slot(alice[2], 2, 12.0)
            counts = (await store.scrape_counts((0.0, 1e12))).by_state
            assert counts == {"submitting": 2, "cancelled": 1}
            assert [state for _, state, _ in await store.job_events(alice[1].id)] == ["accepted", "cancelled"]
        finally:
            await store.close()
