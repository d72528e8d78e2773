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
