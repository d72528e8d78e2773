"""A write whose caller is cancelled (a stop, a deadline) never leaves SQLite's one connection inside an open
transaction: that would hold the write lock and refuse every later write with "cannot start a transaction
within a transaction" until a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from storage.db import Store
from storage.sqlite import SQLiteEngine


async def test_a_write_cancelled_while_its_batch_waits_for_the_connection_leaves_the_database_writable(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'videobot.db'}")
    try:
        engine = store._engine
        assert isinstance(engine, SQLiteEngine)
        release = threading.Event()

        def busy(_: sqlite3.Connection) -> None:
            release.wait(timeout=30)  # the connection's thread busy with another caller's work

        busy_work = asyncio.create_task(engine.in_db_thread(busy))

        async def write(signature: str) -> None:
            async with engine.transaction() as db:
                await db.execute("INSERT INTO seen_requests (signature, at) VALUES (?, ?)", signature, 1.0)

        cancelled = asyncio.create_task(write("cancelled"))
        await asyncio.sleep(0)  # one turn of the loop: its BEGIN and INSERT are queued behind the busy work
        cancelled.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await busy_work

        await write("after")  # refused with "cannot start a transaction within a transaction" before the fix
        rows = await engine.reads.fetch("SELECT signature FROM seen_requests ORDER BY signature")
        assert [str(row[0]) for row in rows] == ["after"]  # the cancelled write was rolled back, not committed
    finally:
        await store.close()
