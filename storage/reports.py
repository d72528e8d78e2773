"""Daily reports: claimed before they are posted, so each goes out once whatever the replicas and restarts."""

from __future__ import annotations

from storage.base import StoreBase


class ReportQueries(StoreBase):
    async def claim_report(self, scope: str, channel_id: str, day: str, now: float) -> bool:
        """True for the one caller that may post this report; every later call, restarts included, gets False."""
        async with self._engine.transaction() as db:
            return (
                await db.execute(
                    "INSERT INTO daily_reports (scope, channel_id, day, claimed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    scope,
                    channel_id,
                    day,
                    now,
                )
                == 1
            )

    async def report_posted(self, scope: str, channel_id: str, day: str, message_ts: str) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "UPDATE daily_reports SET message_ts = ? WHERE scope = ? AND channel_id = ? AND day = ?",
                message_ts,
                scope,
                channel_id,
                day,
            )
