"""Upgrading an old database: migration 8 numbers arrivals as it shipped, and a long upgrade says where it is."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from storage.db import Store
from storage.schema import MIGRATIONS
from tests.fakes.old_schema import SHIPPED_ARRIVALS, schema_7_with_jobs


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
