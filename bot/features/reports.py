"""Where the money goes: `/video quota`, `/video report`, and the daily report in each channel.

`summarize` is a pure function of the stored jobs, so a report's totals are unit-tested without waiting
for the report time. A day's report is claimed in the database before it is posted, so it goes out
once per channel and day, ever, whichever restart or replica gets there first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot import messages
from bot.clients.pacing import Priority
from bot.clients.slack import SlackCallError, SlackGateway
from bot.clients.slack_workspaces import WorkspaceRef, acting_for
from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.domain.perf_keys import OPERATOR_LINE
from bot.domain.quotas import Day, parse_limit
from bot.domain.reports import due_report_day, summarize
from bot.domain.settings import Settings
from bot.features.people import NamedAnswers, People
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.quotas import Quotas
from bot.jobs.workspace_settings import WorkspaceSettings
from storage.db import Store

log = logging.getLogger("videobot.reports")

# Wide enough to hold the day due in any time zone (UTC-12 to UTC+14), at any report time.
_ANY_ZONES_DAY = 3 * 86_400.0


class ReportService:
    def __init__(
        self,
        store: Store,
        quotas: Quotas,
        people: People,
        named: NamedAnswers,
        slack: SlackGateway,
        clock: Clock,
        settings: Settings,
        settings_for: WorkspaceSettings | None = None,
        keys: PerfKeys | None = None,
    ) -> None:
        """`settings_for`: each workspace's own settings (its limits, time zone, report channel and time);
        `keys`: which Perf key pays for a workspace's jobs (its daily cap is that key's)."""
        self._store = store
        self._quotas = quotas
        self._people = people
        self._named = named
        self._slack = slack
        self._clock = clock
        self._settings = settings
        self._settings_for = settings_for
        self._keys = keys

    async def _for(self, team_id: str) -> tuple[Settings, Quotas]:
        """The settings that apply to `team_id` (its admins' over the operator's), and its quotas: what
        its admissions enforce."""
        if self._settings_for is None:
            return self._settings, self._quotas
        settings = await self._settings_for.for_team(team_id)
        return settings, (self._quotas if settings is self._settings else Quotas(self._store, settings))

    async def _line(self, team_id: str) -> str:
        """The line of the Perf key paying for `team_id`'s jobs ("": the operator's)."""
        key = await self._keys.for_team(team_id) if self._keys is not None else None
        return key.line if key is not None else OPERATOR_LINE

    async def quota(self, team_id: str, channel_id: str, user_id: str) -> messages.Message:
        now = self._clock.now()
        settings, quotas = await self._for(team_id)
        day = quotas.today(now)
        limits = await quotas.limits(team_id, channel_id)
        usage = await quotas.usage(team_id, channel_id, user_id, now, await self._line(team_id))
        month = quotas.this_month(now)
        return messages.quota_status(limits, usage, day, now, settings.timezone, month)

    async def set_quota(self, team_id: str, channel_id: str, user_id: str, value: str) -> messages.Message:
        change = parse_limit(value)
        if change is None:
            return messages.quota_bad_value(value)
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            log.warning("event=quota_admin_unchecked user=%s error=%s", user_id, exc.error)
            return messages.quota_admin_unchecked()
        if not person.runs_the_workspace:
            log.info("event=quota_change_refused channel=%s user=%s", channel_id, user_id)
            return messages.quota_admins_only()
        _settings, quotas = await self._for(team_id)
        limits = await quotas.change(team_id, channel_id, change, user_id, self._clock.now())
        log.info(
            "event=quota_changed channel=%s user=%s daily_jobs=%d daily_budget_micros=%d",
            channel_id,
            user_id,
            limits.daily_jobs,
            limits.daily_budget_micros,
        )
        return messages.quota_changed(limits)

    async def report_today(
        self, team_id: str, channel_id: str, user_id: str, response_url: str = ""
    ) -> messages.Message:
        """The channel's day; names Slack has not told the bot yet follow through `response_url`."""
        now = self._clock.now()
        settings, quotas = await self._for(team_id)
        day = quotas.today(now)
        jobs = await self._store.jobs(team_id=team_id, channel_id=channel_id, since=day.start, until=day.end)
        report = summarize(jobs, day.label)
        limits = await quotas.limits(team_id, channel_id)
        usage = await self._store.usage(team_id, channel_id, user_id, day.bounds)
        tz = settings.timezone
        return await self._named.answer(
            [p.user_id for p in report.people],
            lambda names: messages.usage_report(report, names, limits, usage, day, now, tz),
            response_url,
            team_id=team_id,
        )

    async def post_due_reports(self) -> int:
        """Post every report due and not yet posted (the daily run, and the catch-up after downtime)."""
        now = self._clock.now()
        day = due_report_day(now, self._settings.timezone, self._settings.report_time)
        posted = 0
        # Each workspace's reports, from its own jobs alone, sent with its own token (off any request), on
        # its own day (its time zone and report time: any workspace's due day ends within the last two).
        since = (day.start, day.end) if self._settings_for is None else (now - _ANY_ZONES_DAY, now)
        for team_id in await self._store.workspaces_used(since):
            settings = self._settings
            if self._settings_for is not None:
                settings = await self._settings_for.for_team(team_id)
            its_day = due_report_day(now, settings.timezone, settings.report_time)
            enterprise_id = await self._store.enterprise_of(team_id)
            with acting_for(WorkspaceRef(team_id=team_id, enterprise_id=enterprise_id)):
                for channel_id in await self._store.channels_used(team_id, its_day.bounds):
                    jobs = await self._store.jobs(
                        team_id=team_id, channel_id=channel_id, since=its_day.start, until=its_day.end
                    )
                    posted += await self._post_once(team_id, "channel", channel_id, its_day, jobs, now)
                if settings.report_channel:
                    jobs = await self._store.jobs(team_id=team_id, since=its_day.start, until=its_day.end)
                    if jobs:
                        posted += await self._post_once(
                            team_id, "workspace", settings.report_channel, its_day, jobs, now
                        )
        log.info("event=reports_checked day=%s posted=%d", day.label, posted)
        return posted

    async def _post_once(self, team_id: str, scope: str, channel_id: str, day: Day, jobs: list[Job], now: float) -> int:
        if not await self._store.claim_report(team_id, scope, channel_id, day.label, now):
            return 0
        report = summarize(jobs, day.label)
        names = await self._names(team_id, (p.user_id for p in report.people))
        # Posted in a channel: in the channel's language (`/video defaults --language`), else the workspace's.
        with messages.speaking(await self._store.channel_language(team_id, channel_id)):
            message = messages.daily_report(report, names, workspace=scope == "workspace")
        try:
            ts = await self._slack.post_message(channel_id, message)
        except SlackCallError as exc:
            # Claimed, so not retried: a report posted twice is worse than one missing.
            log.warning(
                "event=report_failed scope=%s channel=%s day=%s error=%s", scope, channel_id, day.label, exc.error
            )
            return 0
        await self._store.report_posted(team_id, scope, channel_id, day.label, ts)
        log.info("event=report_posted scope=%s channel=%s day=%s jobs=%d", scope, channel_id, day.label, report.jobs)
        return 1

    async def _names(self, team_id: str, user_ids: Iterable[str]) -> dict[str, str]:
        """Every id named: an id Slack could not name stands for itself in the report. Nobody waits for a daily
        report: its names are asked behind every lookup someone is waiting for (an admin's Approve, a command)."""
        ids = list(user_ids)
        known = await self._people.names(ids, Priority.BACKGROUND, team_id=team_id)
        return {user_id: known.get(user_id, user_id) for user_id in ids}
