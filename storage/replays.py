"""Signatures of the requests already taken, so a copy replayed within Slack's window is refused."""

from __future__ import annotations

from collections.abc import Sequence

from storage.base import StoreBase
from storage.engine import Engine
from storage.groups import GroupCommit
from storage.sql import insert_rows


class ReplayQueries(StoreBase):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._seen_pruned_at = 0.0
        self._sightings: GroupCommit[tuple[str, float, float], bool] = GroupCommit(self._record_sightings)

    async def first_sighting(self, signature: str, now: float, keep_seconds: float) -> bool:
        """Record a request's signature; False if it was recorded before (a replay).

        Sightings asked for together share one transaction, like admissions."""
        return await self._sightings.submit((signature, now, keep_seconds))

    async def _record_sightings(self, group: Sequence[tuple[str, float, float]]) -> list[bool | BaseException]:
        rows = [(signature, now) for signature, now, _ in group]
        statements = insert_rows(
            "seen_requests", ("signature", "at"), rows, " ON CONFLICT DO NOTHING RETURNING signature"
        )
        inserts = len(statements)
        _, now, keep_seconds = group[-1]
        if now - self._seen_pruned_at > keep_seconds / 6:
            # Now and then is enough: old rows only take space, they never match a fresh request.
            self._seen_pruned_at = now
            statements.append(("DELETE FROM seen_requests WHERE at < ?", (now - keep_seconds,)))
        async with self._engine.transaction() as db:
            results = await db.batch(*statements, commit=True)
        # Only the first of a signature's copies is inserted; every other one is a replay.
        fresh = {row[0] for result in results[:inserts] for row in result.rows}
        outcomes: list[bool | BaseException] = []
        for signature, _ in rows:
            outcomes.append(signature in fresh)
            fresh.discard(signature)
        return outcomes
