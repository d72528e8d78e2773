"""SQLite behind `storage.engine`'s interface: one writer connection (admissions serialised by
`BEGIN IMMEDIATE`) and a read-only side connection for scrapes (WAL lets it read while the bot writes)."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import aiosqlite

from storage.engine import Connection, Engine, MigrationStep, Result, Row, Statement

log = logging.getLogger("videobot.storage")
_T = TypeVar("_T")

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
# (every 1,000 pages, in a commit): one off the commands' connection made acks slower (docs/operating/retention.md).
_SQLITE_PRAGMAS = (
    "auto_vacuum=INCREMENTAL",
    "journal_mode=WAL",
    "busy_timeout=5000",
    "synchronous=NORMAL",
    "foreign_keys=ON",
)


def _owner_only(path: str) -> None:
    """The database holds people's prompts and what they spent: a new file is its owner's alone (0600, and
    SQLite gives its -wal and -shm files the same mode), and an existing one loses any access by everyone."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # the mode applies only if this creates it
        for file in (path, f"{path}-wal", f"{path}-shm"):
            mode = os.stat(file).st_mode if os.path.exists(file) else 0
            if mode & 0o007:
                os.chmod(file, stat.S_IMODE(mode) & ~0o007)
                log.warning("event=database_file_was_world_readable file=%s now=%o", file, stat.S_IMODE(mode) & ~0o007)
    except OSError:
        # Not ours to change (a mounted volume, another owner): SQLite's own open says what is wrong, if anything.
        pass


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

    async def finish_fenced(self, fence: Statement, *statements: Statement) -> bool:
        if self.committed:
            raise RuntimeError("the transaction was committed with an earlier batch")

        def run(db: sqlite3.Connection) -> bool:
            if not self.begun:
                db.execute("BEGIN IMMEDIATE")
                self.begun = True
            [fenced] = _run_in_sqlite(db, [fence])
            if fenced.changed == 0:
                return False
            _run_in_sqlite(db, statements)
            db.commit()
            self.committed = True
            return True

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
            _owner_only(path)
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
                if not transaction.committed:
                    # Not only when `begun`: a caller cancelled while its batch waited in the connection's
                    # thread leaves that batch to run there after this line (BEGIN IMMEDIATE included). This
                    # rollback is queued behind it in the same thread, so the transaction never stays open:
                    # an open one would hold the write lock and refuse every later BEGIN. Shielded, so that a
                    # second cancel cannot skip it.
                    await asyncio.shield(self._db.rollback())
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
