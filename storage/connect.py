"""Opening the engine a DATABASE_URL names, with an error that says what to check."""

from __future__ import annotations

from storage.engine import DatabaseUnavailable, Engine, describe_url, sqlite_path
from storage.postgres import PostgresEngine
from storage.sqlite import SQLiteEngine


async def open_engine(url: str) -> Engine:
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
    try:
        if url.startswith("sqlite:///"):
            return await SQLiteEngine.open(sqlite_path(url))
        return await PostgresEngine.open(url)
    except Exception as exc:
        hint = (
            "check DATABASE_URL and that its folder can be written"
            if url.startswith("sqlite:///")
            else "is PostgreSQL running there, and are DATABASE_URL's user, password and database right?"
        )
        raise DatabaseUnavailable(f"cannot open {describe_url(url)}: {type(exc).__name__}: {exc} ({hint})") from exc
