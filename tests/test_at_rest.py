"""What videobot keeps at rest: no secret a finished job no longer needs, and files only their owner can read."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.runtime import ops
from storage.db import Store
from storage.schema import MIGRATIONS
from tests.conftest import CHANNEL, MakeBot
from tests.fakes.jobs import stored_job
from tests.test_workflow_step import step_executed


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def secrets_stored(store: Store) -> list[tuple[str, str | None]]:
    """What the jobs table holds, read as an attacker with the file would read it."""
    rows = await store._engine.reads.fetch("SELECT response_url, step_token FROM jobs ORDER BY created_at")
    return [(row[0], row[1]) for row in rows]


async def test_a_finished_command_job_keeps_no_response_url(make_bot: MakeBot) -> None:
    bot = await make_bot()
    url = bot.slack.response_url("alice")
    await bot.command("A lighthouse in a storm", response_url=url)
    assert await secrets_stored(bot.services.store) == [(url, None)], "kept while the job may still need it"
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1
    assert await secrets_stored(bot.services.store) == [("", None)]


async def test_the_response_url_still_tells_the_requester_when_the_channel_refuses_then_goes(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    url = bot.slack.response_url("alice")
    bot.slack.fail_next("chat.postMessage", error="channel_not_found")
    await bot.command("A lighthouse in a storm", response_url=url)
    await bot.run_jobs()
    assert [name for name, _ in bot.slack.responses if name == "alice"], "told privately through its response_url"
    assert await secrets_stored(bot.services.store) == [("", None)]


async def test_a_finished_workflow_step_job_keeps_no_token(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.event(step_executed(bot))
    [(_, token)] = await secrets_stored(bot.services.store)
    assert token == bot.slack.step_tokens["Fx0001"]
    await bot.run_jobs()
    assert bot.slack.ended_steps["Fx0001"][0] == "success"
    assert await secrets_stored(bot.services.store) == [("", None)]


async def test_the_migration_clears_the_secrets_of_jobs_finished_before_it(store: Store) -> None:
    [clearing] = [script for script in MIGRATIONS if "SET response_url = '', step_token = NULL" in script]
    finished = stored_job(created_at=1.0, finalized=True, response_url="https://hooks.slack.com/commands/T/1/a")
    stepped = stored_job(created_at=2.0, finalized=True, step_execution_id="Fx1", step_token="xwfp-old-token")
    running = stored_job(
        created_at=3.0, response_url="https://hooks.slack.com/commands/T/1/b", step_token="xwfp-live-token"
    )
    for job in (finished, stepped, running):
        await store.insert_job(job)
    # The migration's own statement, as the upgrade runs it, on jobs stored the way older versions left them.
    async with store._engine.transaction() as db:
        await db.batch((clearing.strip().rstrip(";"), ()))
    assert await secrets_stored(store) == [
        ("", None),
        ("", None),
        ("https://hooks.slack.com/commands/T/1/b", "xwfp-live-token"),
    ]


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which a file created without a mode is readable by everyone."""
    previous = os.umask(0o022)
    yield None
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_files(directory: Path) -> dict[str, int]:
    """The database's files (the database, its -wal and -shm) and their permission bits."""
    return {p.name: mode(p) for p in directory.iterdir() if p.name.startswith("videobot.db")}


@pytest.mark.usefixtures("umask_022")
async def test_a_new_sqlite_database_and_its_log_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "videobot.db"
    store = await Store.open(f"sqlite:///{path}")
    try:
        await store.insert_job(stored_job())
        modes = database_files(tmp_path)
        assert set(modes) >= {"videobot.db", "videobot.db-wal"}
        assert modes == dict.fromkeys(modes, 0o600)
    finally:
        await store.close()


@pytest.mark.usefixtures("umask_022")
async def test_an_existing_world_readable_database_is_closed_to_everyone(tmp_path: Path) -> None:
    path = tmp_path / "videobot.db"
    store = await Store.open(f"sqlite:///{path}")
    await store.close()
    path.chmod(0o644)
    store = await Store.open(f"sqlite:///{path}")
    await store.close()
    assert mode(path) == 0o640


@pytest.mark.usefixtures("umask_022")
async def test_a_backup_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "videobot.db"
    store = await Store.open(f"sqlite:///{path}")
    await store.insert_job(stored_job())
    await store.close()
    copy = tmp_path / "backups" / "copy.db"
    assert ops.backup(str(path), str(copy)) > 0
    assert mode(copy) == 0o600
    with pytest.raises(ops.OpsRefused, match="exists"):
        ops.backup(str(path), str(copy))
