"""What every seam of the store runs its queries on: the engine, for transactions, and its reads.

Each seam (`storage/jobs.py`, `storage/queue.py`, …) is a class over this one, and `storage.db.Store`
is all of them at once; a seam reaches only these two attributes and its own, never another seam.
"""

from __future__ import annotations

from storage.engine import Connection, Engine


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Reads outside any transaction; every write goes through `self._engine.transaction()`.
        self._db: Connection = engine.reads
