"""Opening the engine a DATABASE_URL names, with an error that says what to check."""

from __future__ import annotations

from storage.engine import DatabaseUnavailable, Engine, describe_url, sqlite_path
from storage.postgres import DEFAULT_ACQUIRE_TIMEOUT_SECONDS, DEFAULT_CONNECT_TIMEOUT_SECONDS, PostgresEngine
from storage.sqlite import SQLiteEngine


async def open_engine(
    url: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT_SECONDS,
) -> Engine:
    """The engine `url` names. PostgreSQL's connecting and waiting for a free connection are bounded (seconds)."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
    try:
        if url.startswith("sqlite:///"):
            return await SQLiteEngine.open(sqlite_path(url))
        return await PostgresEngine.open(url, connect_timeout=connect_timeout, acquire_timeout=acquire_timeout)
    except TimeoutError as exc:
        raise DatabaseUnavailable(
            f"cannot open {describe_url(url)}: no answer within {connect_timeout:g} s "
            "(is PostgreSQL running there and reachable? VIDEOBOT_DB_CONNECT_TIMEOUT_SECONDS sets the wait)"
        ) from exc
    except Exception as exc:
        hint = (
            "check DATABASE_URL and that its folder can be written"
            if url.startswith("sqlite:///")
            else "is PostgreSQL running there, and are DATABASE_URL's user, password and database right?"
        )
        raise DatabaseUnavailable(f"cannot open {describe_url(url)}: {type(exc).__name__}: {exc} ({hint})") from exc
