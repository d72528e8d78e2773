"""The poller's maintenance run: detail older than the retention window deleted, its space given back.

It runs as a scheduled job of the poller (daily, and once at start), never inside a command: each batch
is its own short transaction, so an ack waiting for the database waits for one batch at most.

The operator's window (VIDEOBOT_RETENTION_DAYS) applies to every table; a workspace with a shorter one of its
own (`/video admin set retention-days`, bot/domain/workspace_settings.py) then has its jobs' events, App
Home viewers and report claims past its own window deleted too (replay signatures belong to no workspace:
the operator's window). A workspace that removed videobot has its whole history deleted once its window has
passed since, as `videobot workspaces forget` deletes it, unless it installed videobot again meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.domain import workspace_settings
from bot.domain.clock import Clock
from bot.domain.settings import Settings
from storage.db import Store
from storage.maintenance import RETAINED_TABLES, TEAM_RETAINED_TABLES, Departure, OldJob
from storage.secrets import Workspace
from storage.workspaces import UnfinishedJobs, WorkspaceStore

log = logging.getLogger("videobot.maintenance")

DAY_SECONDS = 86_400
# Rows per transaction: a few milliseconds of the write lock on either engine.
BATCH_ROWS = 1_000
# A workspace's own window walks its jobs a batch at a time; a job has a few events (about 9 to delivery).
JOBS_PER_EVENT_BATCH = 100
# A finished job may still gain an event for a while (its last step recorded after its finalization): the
# next run reads again the jobs of the last day before the mark.
MARK_MARGIN_SECONDS = DAY_SECONDS
RETENTION_SETTING = "retention-days"


class Maintenance:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        retention_days: int,
        batch_rows: int = BATCH_ROWS,
        *,
        settings: Settings | None = None,
        workspaces: WorkspaceStore | None = None,
    ) -> None:
        """`workspaces`: what forgets a workspace that left (None: a deployment with no installations)."""
        self._store = store
        self._clock = clock
        self._retention_days = retention_days
        base = settings or Settings(slack_bot_token="", perf_api_key="")
        self._settings = dataclasses.replace(base, retention_days=retention_days)
        self._batch_rows = batch_rows
        self._workspaces = workspaces

    async def run(self) -> dict[str, int]:
        """Delete what is past the window, table by table in batches, then give the free pages back.

        The rows deleted per table, the operator's window and the workspaces' own together (none when nothing
        is ever deleted: retention 0 and no workspace with a window of its own)."""
        own = {
            team: days
            for team, text in (await self._store.own_setting(RETENTION_SETTING)).items()
            if (days := workspace_settings.own_retention_days(self._settings, text)) != self._retention_days
        }
        departed = await self._forget_departed(own)
        await self._forget_idle_slack_buckets()
        if self._retention_days == 0 and not own:
            log.info("event=retention_skipped retention_days=0")
            return {}
        now = self._clock.now()
        deleted = dict.fromkeys(RETAINED_TABLES, 0)
        if self._retention_days:
            # Replay signatures have their own 5-minute window (storage/replays.py), far inside any retention; a
            # report claim is only needed until its day can no longer be posted, and retention is at least a week.
            before = now - self._retention_days * DAY_SECONDS
            deleted = {table: await self._forget(table, before) for table in RETAINED_TABLES}
        for team, days in sorted(own.items()):
            if team in departed:
                continue
            counts = await self._forget_team(team, now - days * DAY_SECONDS, now)
            for table, count in counts.items():
                deleted[table] += count
            log.info(
                "event=retention_done team=%s retention_days=%d %s",
                team,
                days,
                " ".join(f"{table}={count}" for table, count in counts.items()),
            )
        reclaimed = await self._store.reclaim_space()
        log.info(
            "event=retention_done retention_days=%d %s reclaimed_bytes=%d",
            self._retention_days,
            " ".join(f"{table}={count}" for table, count in deleted.items()),
            reclaimed,
        )
        return deleted

    async def _forget_idle_slack_buckets(self) -> None:
        """The shared Slack budget's buckets (PostgreSQL replicas) not used for an hour: full again, so gone."""
        total = 0
        while (count := await self._store.forget_idle_slack_buckets(self._batch_rows)) > 0:
            total += count
            if count < self._batch_rows:
                break
        if total:
            log.info("event=slack_buckets_forgotten idle_buckets=%d", total)

    async def _forget(self, table: str, before: float) -> int:
        total = 0
        while True:
            count = await self._store.forget_older(table, before, self._batch_rows)
            total += count
            if count < self._batch_rows:
                return total

    async def _forget_team(self, team: str, before: float, now: float) -> dict[str, int]:
        counts = {"job_events": await self._forget_team_events(team, before)}
        for table in TEAM_RETAINED_TABLES[1:]:
            counts[table] = 0
            while True:
                count = await self._store.forget_team_older(table, team, before, self._batch_rows)
                counts[table] += count
                if count < self._batch_rows:
                    break
        return counts

    async def _forget_team_events(self, team: str, before: float) -> int:
        """The team's jobs created since its mark and before the cutoff, a batch at a time: their events past
        the cutoff deleted, `batch_rows` at most a transaction. The mark then moves up to the cutoff (less a
        margin), or to the oldest of these jobs still under way: the next run starts there."""
        mark = await self._store.retention_mark(team)
        after: tuple[float, int] = (mark, -1)
        oldest_open: float | None = None
        total = 0
        while True:
            jobs: list[OldJob] = await self._store.team_old_jobs(team, after, before, JOBS_PER_EVENT_BATCH)
            if not jobs:
                break
            ids = [job.id for job in jobs]
            while True:
                count = await self._store.forget_events_of(ids, before, self._batch_rows)
                total += count
                if count < self._batch_rows:
                    break
            unfinished = [job.created_at for job in jobs if not job.finalized]
            if unfinished and oldest_open is None:
                oldest_open = min(unfinished)
            after = (jobs[-1].created_at, jobs[-1].arrival)
            if len(jobs) < JOBS_PER_EVENT_BATCH:
                break
        cleared = (
            before - MARK_MARGIN_SECONDS if oldest_open is None else min(oldest_open, before - MARK_MARGIN_SECONDS)
        )
        if cleared > mark:
            await self._store.set_retention_mark(team, cleared)
        return total

    async def _forget_departed(self, own: dict[str, int]) -> set[str]:
        """Workspaces that removed videobot longer ago than their window: their history deleted as `videobot
        workspaces forget` deletes it. One installed again since keeps its history. The teams forgotten."""
        if self._workspaces is None:
            return set()
        now, forgotten = self._clock.now(), set()
        for departure in await self._store.departures():
            days = own.get(departure.team_id, self._retention_days)
            if days == 0 or departure.left_at > now - days * DAY_SECONDS:
                continue  # kept for good (retention 0), or not yet
            if await self._store.installed_again(departure):
                log.info(
                    "event=workspace_history_kept team=%s enterprise=%s reason=installed_again",
                    departure.team_id or "-",
                    departure.enterprise_id or "-",
                )
                await self._store.departure_done(departure)
                continue
            teams = await self._teams_of(departure)
            if await self._forget_workspace(departure, teams):
                forgotten.update(teams)
                await self._store.departure_done(departure)
        return forgotten

    async def _teams_of(self, departure: Departure) -> list[str]:
        if departure.team_id:
            return [departure.team_id]
        # An org-wide install served each of the org's workspaces: those with no installation of their own.
        return [
            team
            for team in await self._store.teams_of_org(departure.enterprise_id)
            if not await self._store.installed_again(Departure("", team, departure.left_at))
        ]

    async def _forget_workspace(self, departure: Departure, teams: list[str]) -> bool:
        assert self._workspaces is not None
        workspaces = [Workspace(departure.enterprise_id or None, departure.team_id or None)]
        if not departure.team_id:
            workspaces += [Workspace(None, team) for team in teams]
        jobs = 0
        for workspace in workspaces:
            try:
                jobs += (await self._workspaces.forget(workspace)).jobs
            except UnfinishedJobs as exc:
                # Ended by the uninstall; one still moving is left for the next run.
                log.warning(
                    "event=workspace_history_delayed team=%s enterprise=%s unfinished=%d",
                    workspace.team_id or "-",
                    departure.enterprise_id or "-",
                    exc.count,
                )
                return False
        log.info(
            "event=workspace_history_deleted team=%s enterprise=%s left_at=%d jobs=%d",
            departure.team_id or "-",
            departure.enterprise_id or "-",
            departure.left_at,
            jobs,
        )
        return True
