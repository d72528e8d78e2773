"""Daily reports: claimed before they are posted, so each goes out once whatever the replicas and restarts."""

from __future__ import annotations

from storage.base import StoreBase
from storage.claims import ClaimKey, claim_once, record_post


def _report(team_id: str, scope: str, channel_id: str, day: str) -> ClaimKey:
    return (("team_id", team_id), ("scope", scope), ("channel_id", channel_id), ("day", day))


class ReportQueries(StoreBase):
    async def claim_report(self, team_id: str, scope: str, channel_id: str, day: str, now: float) -> bool:
        """True for the one caller that may post this report; every later call, restarts included, gets False."""
        return await claim_once(self._engine, "daily_reports", _report(team_id, scope, channel_id, day), now)

    async def report_posted(self, team_id: str, scope: str, channel_id: str, day: str, message_ts: str) -> None:
        await record_post(self._engine, "daily_reports", _report(team_id, scope, channel_id, day), message_ts)
