"""The two database engines behind one small interface: SQLite (aiosqlite) for one process, PostgreSQL
(asyncpg) for several replicas sharing one database.

Queries are written once, in the SQL both engines accept, with `?` placeholders; this module is the only
place that knows how each engine binds parameters, opens transactions, serialises admissions and spells
column types. Everything else in `storage/` speaks to `Engine` and `Connection`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiosqlite

log = logging.getLogger("videobot.storage")
_T = TypeVar("_T")

# Keys of PostgreSQL advisory locks (any 64-bit numbers; they only need to be this app's own).
_ADMISSION_LOCK = 0x76696465_6F626F01  # a job joins the account: quotas, its place in line, a slot at Perf
_MIGRATION_LOCK = 0x76696465_6F626F02  # one replica migrates at a time
_MIGRATION_TIMEOUT_SECONDS = 24 * 3600.0


class Row(Protocol):
    def __getitem__(self, key: int | str, /) -> Any: ...


Statement = tuple[str, Sequence[Any]]
# Called before each migration with its version and the last one to apply: a long upgrade says how far it is.
MigrationStep = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class Result:
    rows: Sequence[Row]
    changed: int  # rows the statement inserted, updated or deleted


class Connection(ABC):
    """Statements on one connection, inside a transaction when it came from `Engine.transaction`."""

    @abstractmethod
    async def batch(self, *statements: Statement, commit: bool = False) -> list[Result]:
        """Run `statements` in order, in one hand-over to the database where the engine can.

        On SQLite each call to the database's thread costs more than these small statements, and every
        await lets the other requests of a burst run first: a transaction of two batches is two
        hand-overs instead of one per statement. `commit=True` ends a transaction with the batch (the
        transaction then does nothing more at its end).
        """

    async def fetch(self, sql: str, *params: Any) -> Sequence[Row]:
        return (await self.batch((sql, params)))[0].rows

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; the number of rows it changed."""
        return (await self.batch((sql, params)))[0].changed

    async def fetchrow(self, sql: str, *params: Any) -> Row | None:
        rows = await self.fetch(sql, *params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        row = await self.fetchrow(sql, *params)
        return row[0] if row is not None else None


class Engine(ABC):
    name: str
    # Appended to a SELECT that picks rows to claim: rows another process is claiming are passed over.
    skip_locked: str = ""
    # Where the data lives, for /healthz and `videobot check`: never the password.
    description: str

    @property
    @abstractmethod
    def reads(self) -> Connection:
        """For reads outside any transaction (each statement sees the latest committed data)."""

    @property
    def side_reads(self) -> Connection:
        """For reads that must never hold up the command path (a /metrics scrape): a connection of their
        own where the engine has one to give, else `reads`."""
        return self.reads

    @abstractmethod
    def transaction(self, *, admission: bool = False) -> AbstractAsyncContextManager[Connection]:
        """`async with engine.transaction() as db:` commits at the end, rolls back on any exception.

        `admission=True` also serialises the transaction with every other admission, across processes:
        a quota check and the insert it allows, or a slot claimed against the account's limit, cannot
        interleave with another one anywhere.
        """

    @abstractmethod
    async def migrate(self, scripts: Sequence[str], on_step: MigrationStep | None = None) -> list[int]:
        """Apply the scripts not yet applied, each with its version row in one transaction; the versions applied."""

    @abstractmethod
    async def has_table(self, name: str) -> bool: ...

    @abstractmethod
    async def outside_transaction(self, sql: str) -> Sequence[Row]:
        """Run a statement that may not run inside a transaction (VACUUM, PRAGMA), in turn with the writers."""

    @abstractmethod
    async def close(self) -> None: ...


class DatabaseUnavailable(Exception):
    """The database could not be opened; the message names it (without its password) and why."""


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


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def describe_url(url: str) -> str:
    """The URL without its password."""
    if url.startswith("sqlite:///"):
        return f"sqlite {sqlite_path(url)}"
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql {user}{parts.hostname}{port}{parts.path}"


# --- SQLite ---------------------------------------------------------------------------------------------


def _run_in_sqlite(db: sqlite3.Connection, statements: Sequence[Statement]) -> list[Result]:
    results = []
    for sql, params in statements:
        cursor = db.execute(sql, params)
        rows = cursor.fetchall()
        results.append(Result(rows, max(cursor.rowcount, 0)))
        cursor.close()
    return results


# auto_vacuum first, before any table exists (a new file): deleted rows' pages can then be given back while
# the bot runs (an existing file keeps its mode until a full VACUUM). The log's checkpoints stay SQLite's own
# (every 1,000 pages, in a commit): one off the commands' connection made acks slower (README, Retention).
_SQLITE_PRAGMAS = (
    "auto_vacuum=INCREMENTAL",
    "journal_mode=WAL",
    "busy_timeout=5000",
    "synchronous=NORMAL",
    "foreign_keys=ON",
)


class _SQLiteConnection(Connection):
    """Statements outside any transaction: reads (SQLite starts no transaction for a SELECT)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def batch(self, *statements: Statement, commit: bool = False) -> list[Result]:
        return await _in_thread(self._db, lambda db: _run_in_sqlite(db, statements))


async def _in_thread(db: aiosqlite.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    """Run `work` in `db`'s aiosqlite thread: one hand-over for any number of statements.

    aiosqlite has no public way to do this; `_execute` and `_conn` are the private pair its own
    methods use (checked against aiosqlite 0.20-0.21).
    """
    result: _T = await db._execute(lambda: work(db._conn))  # type: ignore[no-untyped-call]
    return result


class _SQLiteTransaction(Connection):
    """BEGIN IMMEDIATE goes with the first batch, COMMIT with the last one that asks for it."""

    def __init__(self, engine: SQLiteEngine) -> None:
        self._engine = engine
        self.begun = False
        self.committed = False

    async def batch(self, *statements: Statement, commit: bool = False) -> list[Result]:
        if self.committed:
            raise RuntimeError("the transaction was committed with an earlier batch")

        def run(db: sqlite3.Connection) -> list[Result]:
            if not self.begun:
                # IMMEDIATE takes SQLite's write lock at once, which is all an admission needs.
                db.execute("BEGIN IMMEDIATE")
                self.begun = True
            results = _run_in_sqlite(db, statements)
            if commit:
                db.commit()
                self.committed = True
            return results

        return await self._engine.in_db_thread(run)


class SQLiteEngine(Engine):
    """One aiosqlite connection in WAL mode, shared by every coroutine of the one process, for the writes
    and the command path's reads; a second, read-only one for the side reads.

    Each aiosqlite connection is one thread that runs its statements one after the other: a /metrics
    scrape on the shared connection made every ack behind it wait (633 ms at p99 with a year of
    history). WAL lets the reader read while the writer writes, each seeing only committed data."""

    name = "sqlite"

    def __init__(self, db: aiosqlite.Connection, path: str, reader: aiosqlite.Connection | None = None) -> None:
        self._db = db
        self._reader = reader
        self._connection = _SQLiteConnection(db)
        self._side_connection = _SQLiteConnection(reader) if reader is not None else self._connection
        self.description = f"sqlite {path}"
        # A commit on the shared connection commits whatever is pending on it: transactions take turns.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SQLiteEngine:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = aiosqlite.Row
        for pragma in _SQLITE_PRAGMAS:
            await db.execute(f"PRAGMA {pragma}")
        # An in-memory database is private to its connection: there, the side reads share the one.
        reader = None if path == ":memory:" else await aiosqlite.connect(path)
        if reader is not None:
            reader.row_factory = aiosqlite.Row
            # query_only: the reader can never write, so every write stays behind the one writer's lock.
            for pragma in ("busy_timeout=5000", "query_only=ON"):
                await reader.execute(f"PRAGMA {pragma}")
        return cls(db, path, reader)

    @property
    def reads(self) -> Connection:
        return self._connection

    @property
    def side_reads(self) -> Connection:
        return self._side_connection

    async def in_db_thread(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` in the shared connection's thread: one hand-over for any number of statements."""
        return await _in_thread(self._db, work)

    @asynccontextmanager
    async def transaction(self, *, admission: bool = False) -> AsyncIterator[Connection]:
        # One writer at a time on the shared connection; across processes, BEGIN IMMEDIATE's lock.
        async with self._write_lock:
            transaction = _SQLiteTransaction(self)
            try:
                yield transaction
            except BaseException:
                if transaction.begun and not transaction.committed:
                    await self._db.rollback()
                raise
            if transaction.begun and not transaction.committed:
                await self._db.commit()

    async def migrate(self, scripts: Sequence[str], on_step: MigrationStep | None = None) -> list[int]:
        async with self._write_lock:
            await self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            await self._db.commit()
            current = await self._connection.fetchval("SELECT MAX(version) FROM schema_version") or 0
            applied = []
            for version, script in enumerate(scripts[current:], start=current + 1):
                if on_step is not None:
                    await on_step(version, len(scripts))
                # executescript commits first, so each migration and its version row go in one transaction.
                await self._db.executescript(
                    f"BEGIN; {script}; INSERT INTO schema_version (version) VALUES ({version}); COMMIT;"
                )
                applied.append(version)
            return applied

    async def has_table(self, name: str) -> bool:
        found = await self._connection.fetchval("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name)
        return found is not None

    async def outside_transaction(self, sql: str) -> Sequence[Row]:
        async with self._write_lock:
            return (await self._connection.batch((sql, ())))[0].rows

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        await self._db.close()


# --- PostgreSQL -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$1`, `$2`, … (no query here has a `?` inside a string literal)."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


def postgres_ddl(script: str) -> str:
    """A migration written for SQLite in PostgreSQL's types: 64-bit integers, double-precision times."""
    script = re.sub(
        r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script
    )
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)


def _rows_changed(status: str) -> int:
    # asyncpg answers a statement with its command tag: "UPDATE 3", "INSERT 0 1", "DELETE 0".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head == "SELECT" or " RETURNING " in sql.upper()


class _PostgresConnection(Connection):
    def __init__(self, db: Any) -> None:
        self._db = db  # an asyncpg Connection or Pool: both have fetch and execute

    async def batch(self, *statements: Statement, commit: bool = False) -> list[Result]:
        # One round trip each; the transaction, if any, commits when its block ends.
        results = []
        for sql, params in statements:
            if _returns_rows(sql):
                rows = await self._db.fetch(_numbered(sql), *params)
                results.append(Result(rows, len(rows)))
            else:
                results.append(Result([], _rows_changed(await self._db.execute(_numbered(sql), *params))))
        return results


class PostgresEngine(Engine):
    """A pool of asyncpg connections; replicas share the database and coordinate only through it."""

    name = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self._reads = _PostgresConnection(pool)
        self.description = describe_url(url)

    @classmethod
    async def open(cls, url: str) -> PostgresEngine:
        import asyncpg  # only a PostgreSQL deployment needs the driver loaded

        pool = await asyncpg.create_pool(url, min_size=1, max_size=10, command_timeout=30)
        return cls(pool, url)

    @property
    def reads(self) -> Connection:
        return self._reads

    @asynccontextmanager
    async def transaction(self, *, admission: bool = False) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as db, db.transaction():
            if admission:
                # Held until this transaction ends, in every replica: admissions happen one at a time.
                await db.execute("SELECT pg_advisory_xact_lock($1)", _ADMISSION_LOCK)
            yield _PostgresConnection(db)

    async def migrate(self, scripts: Sequence[str], on_step: MigrationStep | None = None) -> list[int]:
        async with self._pool.acquire() as db:
            # Replicas started together: one migrates, the others wait here and then find nothing to do.
            await db.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                current = await db.fetchval("SELECT MAX(version) FROM schema_version") or 0
                applied = []
                for version, script in enumerate(scripts[current:], start=current + 1):
                    if on_step is not None:
                        await on_step(version, len(scripts))
                    async with db.transaction():
                        # Not the pool's 30 s: a migration that rewrites every job takes about 50 s a million.
                        await db.execute(postgres_ddl(script), timeout=_MIGRATION_TIMEOUT_SECONDS)
                        await db.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
                    applied.append(version)
                return applied
            finally:
                await db.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def has_table(self, name: str) -> bool:
        return bool(await self._reads.fetchval("SELECT to_regclass(?) IS NOT NULL", name))

    async def outside_transaction(self, sql: str) -> Sequence[Row]:
        # A statement on the pool runs in autocommit: VACUUM is refused inside a transaction block.
        return (await self._reads.batch((sql, ())))[0].rows

    async def close(self) -> None:
        await self._pool.close()
