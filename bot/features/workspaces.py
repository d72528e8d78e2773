"""A workspace leaves (issue 25): `app_uninstalled`, `tokens_revoked` for the bot, or a Grid org admin taking
the app away from some of its workspaces (`team_access_revoked`).

In any order, repeated or redelivered, each does the same and ends in the same place: the installation is
deleted (its sealed tokens with it) and no cached authorization survives on this replica; the workspace's
unfinished jobs end without another word to Slack (nothing can reach it now): jobs not yet at Perf are never
sent, jobs at Perf are no longer polled and end as undeliverable. Its history is kept for the retention period
(the workspace's own, else the operator's): when it left is recorded, and the maintenance run deletes its
history once that period has passed (bot/jobs/maintenance.py), unless it installed videobot again by then.
Other pieces that hold something of a workspace's (its Perf key) are told through `on_workspace_gone`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.domain.clock import Clock
from bot.domain.job import IN_FLIGHT_STATES, TERMINAL_STATES, Job
from bot.domain.settings import Settings
from bot.jobs.writer import JobWriter
from storage.db import StaleJob, Store

log = logging.getLogger("videobot.workspaces")

# A job another step moved meanwhile is read again and ended; after this many tries it is left to its lease.
MAX_END_TRIES = 3
NOT_SENT = "the workspace removed videobot before this job was sent to Perf"
UNDELIVERABLE = "the workspace removed videobot, so the video could not be delivered"

# Told (enterprise_id, team_id) once a workspace is gone: e.g. its Perf key is deleted.
WorkspaceGone = Callable[[str | None, str | None], Awaitable[None]]


class WorkspaceRemoval:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        *,
        installations: AsyncInstallationStore | None = None,
        forget: Callable[[str | None, str | None], None] = lambda enterprise_id, team_id: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._writer = JobWriter(store, clock, settings)
        self._installations = installations
        self._forget = forget
        self.on_workspace_gone: list[WorkspaceGone] = []

    async def uninstalled(self, enterprise_id: str | None, team_id: str | None, why: str) -> None:
        """The whole installation is gone (app_uninstalled; tokens_revoked naming the bot)."""
        if self._installations is not None:
            await self._installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
            # Its history goes after the retention period, counted from now (installed through Slack only:
            # the single workspace of SLACK_BOT_TOKEN has no installation to come back with).
            await self._store.workspace_left(enterprise_id, team_id, self._clock.now())
        self._forget(enterprise_id, team_id)
        if team_id:
            ended = await self._end_jobs([team_id])
        else:  # an org-wide install: every workspace of the org, as its jobs recorded it
            ended = await self._end_all(await self._store.unfinished_jobs_of_org(enterprise_id or ""))
        log.info(
            "event=workspace_gone why=%s team=%s enterprise=%s jobs_ended=%d",
            why,
            team_id or "-",
            enterprise_id or "-",
            ended,
        )
        for hook in self.on_workspace_gone:
            await hook(enterprise_id, team_id)

    async def access_revoked(self, enterprise_id: str | None, team_ids: Sequence[str]) -> None:
        """A Grid org took the app away from these workspaces: the org's install stays for the others."""
        for team in team_ids:
            self._forget(None, team)
        ended = await self._end_jobs(list(team_ids))
        log.info(
            "event=team_access_revoked enterprise=%s teams=%s jobs_ended=%d",
            enterprise_id or "-",
            ",".join(team_ids) or "-",
            ended,
        )

    async def _end_jobs(self, team_ids: Sequence[str]) -> int:
        return await self._end_all(await self._store.unfinished_jobs_of_teams(team_ids))

    async def _end_all(self, jobs: Sequence[Job]) -> int:
        ended = 0
        for job in jobs:
            ended += await self._end(job)
        return ended

    async def _end(self, job: Job) -> int:
        for _ in range(MAX_END_TRIES):
            try:
                if job.state not in TERMINAL_STATES:
                    reached_perf = job.state in IN_FLIGHT_STATES or job.perf_job_id is not None
                    await self._writer.fail(job, UNDELIVERABLE if reached_perf else NOT_SENT, event="workspace_gone")
                await self._writer.finalized(job)
                return 1
            except StaleJob:
                fresh = await self._store.get_job(job.id, team_id=job.team_id)
                if fresh is None or fresh.finalized:
                    return 0
                job = fresh
        log.warning("job=%s event=workspace_gone_job_left state=%s", job.id, job.state)
        return 0
