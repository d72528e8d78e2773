"""Each workspace's effective settings (issue 25): the operator's, with the workspace's own overrides.

The one resolver the job machine and the features ask (`for_team`); a team's overrides are read at most
every `cache_seconds` (by the injected clock), and at once on the replica that changed them.
"""

from __future__ import annotations

import dataclasses

from bot.domain import workspace_settings
from bot.domain.clock import Clock
from bot.domain.settings import Settings
from storage.secrets import Workspace
from storage.workspaces import WorkspaceStore

CACHE_SECONDS = 30.0


class WorkspaceSettings:
    def __init__(
        self,
        settings: Settings,
        workspaces: WorkspaceStore | None,
        clock: Clock,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        """`workspaces` None: no workspace has settings of its own (every one gets the operator's).

        With many workspaces the operator's VIDEOBOT_REPORT_CHANNEL is no workspace's default: a channel id
        of one workspace means nothing in another, so a workspace-wide report goes only to the channel its
        admins set (`/video admin set report-channel`)."""
        if settings.many_workspaces and settings.report_channel:
            settings = dataclasses.replace(settings, report_channel="")
        self._settings = settings
        self._workspaces = workspaces
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    @property
    def defaults(self) -> Settings:
        return self._settings

    @property
    def can_override(self) -> bool:
        return self._workspaces is not None

    async def overrides(self, team_id: str) -> dict[str, str]:
        if self._workspaces is None or not team_id:
            return {}
        now = self._clock.now()
        cached = self._cache.get(team_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        found = await self._workspaces.settings_of_team(team_id)
        self._cache[team_id] = (now + self._cache_seconds, found)
        return found

    async def for_team(self, team_id: str) -> Settings:
        """The settings that apply to `team_id`'s jobs and people."""
        overrides = await self.overrides(team_id)
        return workspace_settings.effective(self._settings, overrides) if overrides else self._settings

    async def set(self, team_id: str, name: str, value: str, *, by: str) -> None:
        """Store a checked value (callers parse it first with bot.domain.workspace_settings.parse)."""
        assert self._workspaces is not None
        workspace = await self._workspaces.find(team_id) or Workspace(None, team_id)
        await self._workspaces.set_setting(workspace, name, value, set_by=by, now=self._clock.now())
        self._cache.pop(team_id, None)

    async def unset(self, team_id: str, name: str) -> bool:
        assert self._workspaces is not None
        workspace = await self._workspaces.find(team_id) or Workspace(None, team_id)
        removed = await self._workspaces.clear_setting(workspace, name)
        self._cache.pop(team_id, None)
        return removed
