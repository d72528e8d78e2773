"""Which Perf key pays for a team's jobs: its own (storage/workspaces.py), else the operator's PERF_API_KEY.

Asked at admission (no key at all: `NoPerfKey`, nothing stored), at submission and at each poll. A team's
answer is kept `cache_seconds` (by the injected clock), so polls do not read and open the sealed key each
time; a key set or removed on this replica is seen at once (`forget`), on another within that time.
"""

from __future__ import annotations

from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.domain.perf_keys import OPERATOR_LINE, NoPerfKey, PerfKey
from storage.secrets import Workspace
from storage.workspaces import WorkspaceStore

CACHE_SECONDS = 30.0


class PerfKeys:
    def __init__(
        self,
        operator_key: str,
        workspaces: WorkspaceStore | None,
        clock: Clock,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        """`workspaces` None: no workspace has a key of its own (no VIDEOBOT_ENCRYPTION_KEY to open one)."""
        self._operator = PerfKey(operator_key, own=False, line=OPERATOR_LINE) if operator_key else None
        self._workspaces = workspaces
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, PerfKey | None]] = {}

    @property
    def workspaces(self) -> WorkspaceStore | None:
        return self._workspaces

    @property
    def operator_pays(self) -> bool:
        return self._operator is not None

    async def for_team(self, team_id: str) -> PerfKey | None:
        """The key that pays for `team_id`'s jobs, or None when there is none at all."""
        if self._workspaces is None:
            return self._operator
        now = self._clock.now()
        cached = self._cache.get(team_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        own = await self._workspaces.perf_key(team_id) if team_id else None
        key = PerfKey(own, own=True, line=team_id) if own else self._operator
        self._cache[team_id] = (now + self._cache_seconds, key)
        return key

    async def for_job(self, job: Job) -> PerfKey | None:
        """The key of the line `job` waits in (chosen at its admission): the one its create was counted
        against, and so the one it is created and polled with. A job of the operator's line whose operator
        key is gone falls back to its workspace's own key, when it has one by now."""
        if job.line == OPERATOR_LINE:
            return self._operator or await self.for_team(job.team_id)
        key = await self.for_team(job.team_id)
        return key if key is not None and key.own else None

    async def require(self, team_id: str) -> PerfKey:
        """`for_team`, or NoPerfKey when nobody pays: raised before anything is stored."""
        key = await self.for_team(team_id)
        if key is None:
            raise NoPerfKey(team_id)
        return key

    async def workspace_gone(self, enterprise_id: str | None, team_id: str | None) -> None:
        """The workspace uninstalled videobot (or revoked its token): its own Perf key is deleted at once, and
        no longer kept here. An org-wide install's key is the org's (no team)."""
        if self._workspaces is not None:
            await self._workspaces.delete_perf_key(Workspace(enterprise_id=enterprise_id, team_id=team_id))
        self.forget(team_id or "")

    def forget(self, team_id: str) -> None:
        """Drop what is kept of `team_id`'s key: it was just set or removed."""
        self._cache.pop(team_id, None)
