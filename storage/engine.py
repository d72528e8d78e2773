"""The small interface both database engines stand behind: SQLite (aiosqlite, `storage/sqlite.py`) for one
process, PostgreSQL (asyncpg, `storage/postgres.py`) for several replicas sharing one database;
`storage/connect.py` opens the one a URL names.

Queries are written once, in the SQL both engines accept, with `?` placeholders; the two adapters are the
only places that know how each engine binds parameters, opens transactions, serialises admissions and
spells column types. Everything else in `storage/` speaks to `Engine` and `Connection`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger("videobot.storage")
_T = TypeVar("_T")


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

    async def selects(self, *statements: Statement) -> list[Result]:
        """Several SELECTs read together, in one round trip where the engine can (PostgreSQL: one statement,
        so they also share one snapshot). Their rows are read by position only."""
        return await self.batch(*statements)

    async def finish(self, *statements: Statement, bound: Sequence[Statement] = ()) -> None:
        """Writes whose results nobody reads, then the commit, in one round trip where the engine can.

        On PostgreSQL each round trip of a transaction waits for the event loop to send the next statement,
        and the transaction holds its locks meanwhile (the admission lock, job_counts' rows): a busy loop made
        every other admission wait on one "idle in transaction". Ending with this, the row locks the writes
        take are released as soon as the server has run them. PostgreSQL gets their values written into the
        SQL text; `bound` go first and keep theirs as parameters (a job's response_url and step token, which
        a server that logs a failed statement would otherwise log), in a round trip of their own there."""
        await self.batch(*bound, *statements, commit=True)

    async def finish_fenced(self, fence: Statement, *statements: Statement) -> bool:
        """`fence` (a write that finds its row only if nobody changed it meanwhile), then, only if it changed a
        row, `statements` and the commit: in one round trip where the engine can, as `finish`.

        False when `fence` changed nothing: nothing else ran, and the transaction is to be rolled back."""
        [fenced, *_] = await self.batch(fence)
        if fenced.changed == 0:
            return False
        await self.finish(*statements)
        return True

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
