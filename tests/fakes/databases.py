"""The engines the suite runs on: SQLite always; PostgreSQL too when VIDEOBOT_TEST_POSTGRES_URL names a
server (`.ci/postgres` starts a throwaway one, and CI always does). Each test gets a database of its own."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POSTGRES_URL = os.environ.get("VIDEOBOT_TEST_POSTGRES_URL", "").strip()
ENGINES = ("sqlite", "postgresql") if POSTGRES_URL else ("sqlite",)


@asynccontextmanager
async def fresh_database(engine: str, directory: Path) -> AsyncIterator[str]:
    """A DATABASE_URL of an empty database on `engine`, dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{directory / 'data' / 'videobot.db'}"
        return
    import asyncpg

    # Read now, not at import: bench.replicas sets it after starting its own server.
    server = os.environ.get("VIDEOBOT_TEST_POSTGRES_URL", "").strip()
    name = f"videobot_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    parts = urlsplit(server)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(server)
        try:
            # FORCE: a bot process killed mid-test may have left connections behind.
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


_SQLITE_REFUSALS = [
    f"CREATE TRIGGER refuse_{table}_{verb} BEFORE {verb} ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    for table in ("replica_heartbeats", "jobs")
    for verb in ("INSERT", "UPDATE")
]
_POSTGRES_REFUSALS = [
    "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$",
    *(
        f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION refuse_writes()"
        for table in ("replica_heartbeats", "jobs")
    ),
]


@asynccontextmanager
async def writes_refused(url: str) -> AsyncIterator[None]:
    """The database at `url` refuses every write to jobs and heartbeats, as a full disk would, until the block ends.

    Done from another connection, as the disk would: the bot's own connections are left as they are."""
    if url.startswith("sqlite:///"):
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for statement in _SQLITE_REFUSALS:
                db.execute(statement)
            yield
            for statement in _SQLITE_REFUSALS:
                db.execute(f"DROP TRIGGER {statement.split()[2]}")
        finally:
            db.close()
        return
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        for statement in _POSTGRES_REFUSALS:
            await pg.execute(statement)
        yield
        await pg.execute("DROP FUNCTION refuse_writes() CASCADE")
    finally:
        await pg.close()
