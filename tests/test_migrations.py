"""Upgrading an old database: migration 8 numbers arrivals as it shipped, and a long upgrade says where it is."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.app import RUN_MIGRATES_AT_MOST_JOBS
from storage.db import Store
from storage.schema import MIGRATIONS
from tests.fakes.old_schema import SHIPPED_ARRIVALS, schema_7_with_jobs
from tests.fakes.perf import FakePerf
from tests.fakes.process import FAST_POLLING, BotProcess, bot_environment, videobot_command
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def old_store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, migrate=False)
    yield opened
    await opened.close()


async def test_migration_8_numbers_arrivals_exactly_as_the_shipped_statement(old_store: Store) -> None:
    engine = old_store._engine
    await schema_7_with_jobs(engine, 600)
    shipped = {row[0]: row[1] for row in await engine.reads.fetch(SHIPPED_ARRIVALS)}
    assert await old_store.migrate() == list(range(8, len(MIGRATIONS) + 1))
    numbered = {row[0]: row[1] for row in await engine.reads.fetch("SELECT id, arrival FROM jobs")}
    assert numbered == shipped and sorted(numbered.values()) == list(range(1, 601))
    # Ties in created_at are broken by id, which is not the order the rows were inserted in.
    assert [j.id for j in await old_store.jobs(limit=3)] != sorted(j.id for j in await old_store.jobs(limit=3))


async def test_a_long_upgrade_logs_each_step_how_far_it_is_and_what_it_does(
    old_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await schema_7_with_jobs(old_store._engine, 30)
    assert await old_store.pending_migrations() == len(MIGRATIONS) - 7
    assert await old_store.job_count(at_most=10) == 10 and await old_store.job_count() == 30
    with caplog.at_level(logging.INFO, logger="videobot.storage"):
        await old_store.migrate()
    lines = [r.getMessage() for r in caplog.records]
    assert f"event=migrating from_version=7 to_version={len(MIGRATIONS)} jobs=30" in lines
    assert any(f'schema_version=8 of={len(MIGRATIONS)} what="Arrival order' in line for line in lines)
    assert sum("event=migrated schema_version=" in line and "seconds=" in line for line in lines) == len(MIGRATIONS) - 7
    assert await old_store.pending_migrations() == 0


async def test_an_empty_database_counts_no_jobs_and_lacks_every_migration(old_store: Store) -> None:
    assert await old_store.pending_migrations() == len(MIGRATIONS)
    assert await old_store.job_count(at_most=5) == 0


async def videobot(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *videobot_command(*args), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_run_on_a_large_old_database_says_to_migrate_first_and_migrate_then_lets_it_start(
    old_store: Store, database_url: str, fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path
) -> None:
    await schema_7_with_jobs(old_store._engine, RUN_MIGRATES_AT_MOST_JOBS + 1)
    env = bot_environment(fake_slack, fake_perf, database_url, **FAST_POLLING)
    code, out, err = await videobot(env, tmp_path, "run")
    assert code == 1 and "listening" not in out
    assert "schema version 7" in err and "run `videobot migrate` first" in err and "Traceback" not in err
    assert await old_store.schema_version() == 7
    code, out, err = await videobot(env, tmp_path, "migrate")
    assert code == 0 and f"schema version {len(MIGRATIONS)}" in out
    assert f"jobs={RUN_MIGRATES_AT_MOST_JOBS + 1}" in out + err and "event=migration_started" in out + err
    bot = BotProcess(env, tmp_path)
    await bot.start()
    await bot.terminate()


async def test_run_on_a_small_old_database_migrates_it_itself(
    old_store: Store, database_url: str, fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path
) -> None:
    await schema_7_with_jobs(old_store._engine, RUN_MIGRATES_AT_MOST_JOBS)
    bot = BotProcess(bot_environment(fake_slack, fake_perf, database_url, **FAST_POLLING), tmp_path)
    await bot.start()
    await bot.terminate()
    assert await old_store.schema_version() == len(MIGRATIONS)
