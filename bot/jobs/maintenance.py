"""The poller's maintenance run: detail older than the retention window deleted, its space given back.

It runs as a scheduled job of the poller (daily, and once at start), never inside a command: each batch
is its own short transaction, so an ack waiting for the database waits for one batch at most.
"""

from __future__ import annotations

import logging

from bot.domain.clock import Clock
from storage.db import Store
from storage.maintenance import RETAINED_TABLES

log = logging.getLogger("videobot.maintenance")

DAY_SECONDS = 86_400
# Rows per transaction: a few milliseconds of the write lock on either engine.
BATCH_ROWS = 1_000


class Maintenance:
    def __init__(self, store: Store, clock: Clock, retention_days: int, batch_rows: int = BATCH_ROWS) -> None:
        self._store = store
        self._clock = clock
        self._retention_days = retention_days
        self._batch_rows = batch_rows

    async def run(self) -> dict[str, int]:
        """Delete what is past the window, table by table in batches, then give the free pages back.

        The rows deleted per table (none when retention is 0: everything is kept)."""
        if self._retention_days == 0:
            log.info("event=retention_skipped retention_days=0")
            return {}
        # Replay signatures have their own 5-minute window (storage/replays.py), far inside any retention; a
        # report claim is only needed until its day can no longer be posted, and retention is at least a week.
        before = self._clock.now() - self._retention_days * DAY_SECONDS
        deleted = {table: await self._forget(table, before) for table in RETAINED_TABLES}
        reclaimed = await self._store.reclaim_space()
        log.info(
            "event=retention_done retention_days=%d %s reclaimed_bytes=%d",
            self._retention_days,
            " ".join(f"{table}={count}" for table, count in deleted.items()),
            reclaimed,
        )
        return deleted

    async def _forget(self, table: str, before: float) -> int:
        total = 0
        while True:
            count = await self._store.forget_older(table, before, self._batch_rows)
            total += count
            if count < self._batch_rows:
                return total
