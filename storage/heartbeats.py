"""Each replica's heartbeat: a small write now and then, so health reflects whether anything can be written."""

from __future__ import annotations

from storage.base import StoreBase


class HeartbeatQueries(StoreBase):
    async def heartbeat(self, replica: str, now: float, forget_after_seconds: float) -> None:
        """Record that `replica` could write at `now`; forget replicas silent for `forget_after_seconds`.

        Raises whatever the database raises when it refuses the write (a full disk, a read-only file)."""
        async with self._engine.transaction() as db:
            await db.batch(
                (
                    "INSERT INTO replica_heartbeats (replica, at) VALUES (?, ?) "
                    "ON CONFLICT (replica) DO UPDATE SET at = excluded.at",
                    (replica, now),
                ),
                ("DELETE FROM replica_heartbeats WHERE at < ?", (now - forget_after_seconds,)),
                commit=True,
            )
