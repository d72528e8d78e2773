"""`videobot vacuum` gives deleted rows' space back while the bot may run, on either engine."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

from storage.db import Store
from storage.engine import sqlite_path
from storage.schema import MIGRATIONS
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment, videobot_command
from tests.fakes.slack import FakeSlack


async def videobot(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *videobot_command(*args), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def with_deleted_rows(url: str) -> Store:
    """A migrated database whose seen_requests filled pages and were then deleted."""
    store = await Store.open(url)
    async with store._engine.transaction() as db:
        await db.execute(
            "INSERT INTO seen_requests (signature, at) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
            "FROM n WHERE i < 20000) SELECT 'v0=' || CAST(i AS TEXT) || '-padding-to-fill-pages-faster', 1.0 FROM n"
        )
    while await store.forget_older("seen_requests", 2.0, 5_000) == 5_000:
        pass
    return store


async def test_vacuum_gives_the_space_back_while_the_bot_may_run(
    database_url: str, fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path
) -> None:
    store = await with_deleted_rows(database_url)
    await store.close()
    code, out, err = await videobot(bot_environment(fake_slack, fake_perf, database_url), tmp_path, "vacuum")
    assert code == 0, err
    if database_url.startswith("sqlite:///"):
        assert "MB given back to the disk" in out
        with sqlite3.connect(sqlite_path(database_url)) as db:
            assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    else:
        assert "VACUUM (ANALYZE) done" in out


async def test_the_maintenance_run_gives_sqlite_pages_back_itself(database_url: str) -> None:
    store = await with_deleted_rows(database_url)
    try:
        reclaimed = await store.reclaim_space(pages_per_step=50)
        if store.engine == "sqlite":
            assert reclaimed > 0 and await store._pragma("freelist_count") == 0
        else:
            assert reclaimed == 0  # autovacuum's work
    finally:
        await store.close()


async def test_an_old_sqlite_file_is_told_to_stop_and_vacuum_full_once(
    fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # made before auto_vacuum was set: none
        old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, script in enumerate(MIGRATIONS, start=1):
            old.executescript(f"{script}; INSERT INTO schema_version (version) VALUES ({version});")
    url = f"sqlite:///{path}"
    await (await with_deleted_rows(url)).close()
    env = bot_environment(fake_slack, fake_perf, url)
    code, out, _ = await videobot(env, tmp_path, "vacuum")
    assert code == 1 and "Stop the bot, then run `videobot vacuum --full` once" in out
    code, out, _ = await videobot(env, tmp_path, "vacuum", "--full")
    assert code == 0 and "incremental vacuum is on" in out
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    code, out, _ = await videobot(env, tmp_path, "vacuum")
    assert code == 0 and "given back to the disk" in out
