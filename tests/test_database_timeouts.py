"""PostgreSQL's waits are bounded: a server that never answers and a pool with no free connection each end in
one line that says what to check, instead of a start that hangs for a minute or a query that waits forever."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.config import load_settings
from storage.db import Store
from storage.engine import DatabaseUnavailable
from storage.postgres import POOL_SIZE, DatabaseBusy, PostgresEngine
from tests.fakes.databases import POSTGRES_URL, fresh_database


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that takes connections and never says a word, as a firewalled or hung database does."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_database_that_never_answers_is_one_line_after_the_connect_timeout() -> None:
    async with silent_server() as port:
        url = f"postgresql://videobot:s3cret@127.0.0.1:{port}/videobot"
        with pytest.raises(DatabaseUnavailable) as failed:
            await asyncio.wait_for(Store.open(url, connect_timeout=0.2), timeout=30)
    message = str(failed.value)
    assert "\n" not in message
    assert "no answer within 0.2 s" in message and "VIDEOBOT_DB_CONNECT_TIMEOUT_SECONDS" in message
    assert "s3cret" not in message


@pytest.mark.skipif(not POSTGRES_URL, reason="needs VIDEOBOT_TEST_POSTGRES_URL")
async def test_a_query_waits_for_a_free_connection_only_up_to_the_acquire_timeout(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        store = await Store.open(url, acquire_timeout=0.2)
        try:
            engine = store._engine
            assert isinstance(engine, PostgresEngine)
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(POOL_SIZE):  # every connection of the pool held, as by stuck queries
                    await stack.enter_async_context(engine.connection())
                with pytest.raises(DatabaseBusy) as failed:
                    await asyncio.wait_for(store.schema_version(), timeout=30)
            message = str(failed.value)
            assert "\n" not in message and "came free within 0.2 s" in message
            assert await store.schema_version() > 0  # the connections back, queries work again
        finally:
            await store.close()


def test_the_database_timeouts_are_settings_with_sensible_defaults() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PERF_API_KEY": "pk_test_1"}
    settings = load_settings(env, dotenv_path=None)
    assert settings.db_connect_timeout_seconds == 10 and settings.db_acquire_timeout_seconds == 10
    changed = load_settings(
        {**env, "VIDEOBOT_DB_CONNECT_TIMEOUT_SECONDS": "3", "VIDEOBOT_DB_ACQUIRE_TIMEOUT_SECONDS": "2.5"},
        dotenv_path=None,
    )
    assert (changed.db_connect_timeout_seconds, changed.db_acquire_timeout_seconds) == (3, 2.5)
