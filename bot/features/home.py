"""The App Home tab: a person's recent jobs and spending, and for admins every channel's usage today."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.domain.quotas import Day, previous_day
from bot.domain.settings import Settings
from bot.features.people import People
from bot.jobs.quotas import Quotas
from storage.db import Store
from storage.spend import CHANNEL, USER, WORKSPACE, Spent
from storage.takes import SHOWCASE

# App Home lists this many of the latest showcased takes.
HOME_SHOWCASE_LIMIT = 5

log = logging.getLogger("videobot.home")

RECENT_JOBS = 20
CHART_DAYS = 30
# Channels' monthly budgets an admin's tab lists, the biggest spenders first: each line is a context
# line's worth of the section's 3,000 characters.
CHANNEL_BUDGETS_SHOWN = 20


def _by_day(days: list[Day], spent: dict[float, Spent]) -> list[tuple[date, int]]:
    """Each day's spending, oldest first; a row counts in the day its start falls in (jobs stored before
    the upgrade carry their UTC day)."""
    totals = [0] * len(days)
    for start, row in spent.items():
        for n, day in enumerate(days):
            if day.start <= start < day.end:
                totals[n] += row.cost_micros
    return [(date.fromisoformat(day.label), total) for day, total in zip(days, totals, strict=True)]


class HomeService:
    def __init__(
        self, store: Store, quotas: Quotas, people: People, slack: SlackGateway, clock: Clock, settings: Settings
    ) -> None:
        self._store = store
        self._quotas = quotas
        self._people = people
        self._slack = slack
        self._clock = clock
        self._settings = settings
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def opened(self, user_id: str) -> None:
        await self._store.home_opened(user_id, self._clock.now())
        await self.publish(user_id)

    def job_changed(self, job: Job) -> None:
        """Republish the requester's tab soon; one refresh per person at a time, and none for people
        who never opened it (most never do, and each publish is an API call)."""
        if job.user_id in self._pending:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(job.user_id))
        self._pending[job.user_id] = task
        task.add_done_callback(lambda _: self._pending.pop(job.user_id, None))

    async def wait_idle(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    async def _refresh(self, user_id: str) -> None:
        try:
            if await self._store.has_home(user_id):
                await self.publish(user_id)
        except Exception as exc:  # a tab refresh must never disturb the job that triggered it
            log.warning("event=home_refresh_failed user=%s error=%s", user_id, type(exc).__name__)

    async def publish(self, user_id: str) -> None:
        # Private: in the viewer's language, whoever's job changed to refresh it.
        with messages.speaking(self._people.language_known(user_id)):
            await self._publish(user_id)

    async def _publish(self, user_id: str) -> None:
        now = self._clock.now()
        today, month = self._quotas.today(now), self._quotas.this_month(now)
        local = datetime.fromtimestamp(now, ZoneInfo(self._settings.timezone))
        jobs = await self._store.recent_jobs_of(user_id, RECENT_JOBS)
        # From the summary the budgets read, as the chart and the budgets below are: one count of spending.
        spent_today = (await self._store.spent(USER, user_id, today.bounds)).cost_micros
        spent_month = (await self._store.spent(USER, user_id, month.bounds)).cost_micros
        admin_usage: list[messages.ChannelUsage] | None = None
        is_admin = False
        try:
            person = await self._people.get(user_id)
            is_admin = person.runs_the_workspace
            if person.runs_the_workspace:
                usage = await self._store.channel_usage(today.bounds)
                # Every channel's own limits in one read, not one read a channel.
                own = await self._store.channels_limits(list(usage))
                admin_usage = [
                    messages.ChannelUsage(channel, count, cost, self._quotas.limits_with(own.get(channel)).daily_jobs)
                    for channel, (count, cost) in usage.items()
                ]
        except SlackCallError as exc:
            log.info("event=home_admin_unchecked user=%s error=%s", user_id, exc.error)
        spending = await self._spending(user_id, is_admin, now)
        view = messages.home_view(
            jobs,
            spent_today,
            spent_month,
            admin_usage,
            await self._slack.workspace_url(),
            messages.month_name(local.date()),
            spending,
            await self._showcased() if self._settings.showcase_channel else None,
        )
        try:
            await self._slack.publish_home(user_id, view)
        except SlackCallError as exc:
            log.warning("event=home_publish_failed user=%s error=%s", user_id, exc.error)
            return
        log.info("event=home_published user=%s jobs=%d", user_id, len(jobs))

    async def _showcased(self) -> list[messages.Showcased]:
        """The latest showcased takes, newest first (a handful: one read, and a read of each job)."""
        found = []
        for take in await self._store.latest_takes(SHOWCASE, HOME_SHOWCASE_LIMIT):
            job = await self._store.get_job(take.job_id)
            if job is not None and take.message_ts:
                found.append(messages.Showcased(job, take.by_user, take.channel_id, take.message_ts))
        return found

    async def _spending(self, user_id: str, is_admin: bool, now: float) -> messages.HomeSpending:
        """The person's last 30 days (and the workspace's, for admins) and the budgets in money against
        their period so far: each a read of the summary spend_days, whatever the history."""
        days = [self._quotas.today(now)]
        while len(days) < CHART_DAYS:
            days.insert(0, previous_day(days[0], self._settings.timezone))
        period = (days[0].start, days[-1].end)
        mine = await self._store.spent_by_day(USER, user_id, period)
        workspace = await self._store.spent_by_day(WORKSPACE, "", period) if is_admin else None
        return messages.HomeSpending(
            days=_by_day(days, mine),
            workspace_days=_by_day(days, workspace) if workspace is not None else None,
            budgets=await self._budgets(user_id, is_admin, now),
        )

    async def _budgets(self, user_id: str, is_admin: bool, now: float) -> list[messages.BudgetUse]:
        today, month = self._quotas.today(now), self._quotas.this_month(now)
        settings, uses = self._settings, []
        if settings.monthly_budget_micros:
            spent = await self._store.spent(WORKSPACE, "", month.bounds)
            uses.append(
                messages.BudgetUse(messages.budget_name("workspace"), spent.cost_micros, settings.monthly_budget_micros)
            )
        if settings.daily_budget_micros_per_user:
            spent = await self._store.spent(USER, user_id, today.bounds)
            uses.append(
                messages.BudgetUse(
                    messages.budget_name("you"), spent.cost_micros, settings.daily_budget_micros_per_user
                )
            )
        if is_admin:
            channels = await self._store.spent_by_id(CHANNEL, month.bounds)
            own = await self._store.channels_limits([channel for channel, _ in channels])
            budgeted = [(c, s, own[c].monthly_budget_micros or 0) for c, s in channels if c in own]
            uses += [
                messages.BudgetUse(messages.budget_name("channel", channel), spent.cost_micros, allowed)
                for channel, spent, allowed in [b for b in budgeted if b[2]][:CHANNEL_BUDGETS_SHOWN]
            ]
        return uses
