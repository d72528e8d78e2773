"""The App Home tab: a person's recent jobs and spending, for admins every channel's usage today, and the
workspace's Perf key: whether it is set (never the key), and for its admins the form that sets it."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import messages
from bot.clients.perf import KeyCheck, PerfClient, PerfError
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.domain.quotas import Day, previous_day
from bot.domain.settings import Settings
from bot.features import workspace_admin
from bot.features.people import People
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.quotas import Quotas
from bot.jobs.workspace_settings import WorkspaceSettings
from storage.db import Store
from storage.secrets import Workspace
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
# A key typed in the form is checked with Perf inside the submission's 3 s: past this, it is not saved.
KEY_CHECK_SECONDS = 2.0


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
        self,
        store: Store,
        quotas: Quotas,
        people: People,
        slack: SlackGateway,
        clock: Clock,
        settings: Settings,
        *,
        keys: PerfKeys | None = None,
        perf: PerfClient | None = None,
        settings_for: WorkspaceSettings | None = None,
    ) -> None:
        """`keys` and `perf`: the workspace's Perf key section and form (none without them); `settings_for`:
        the workspace's own settings, listed under it where it has any."""
        self._store = store
        self._settings_for = settings_for
        self._keys = keys
        self._perf = perf
        self._quotas = quotas
        self._people = people
        self._slack = slack
        self._clock = clock
        self._settings = settings
        # One refresh at a time per workspace and person.
        self._pending: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def opened(self, team_id: str, user_id: str) -> None:
        await self._store.home_opened(team_id, user_id, self._clock.now())
        await self.publish(team_id, user_id)

    def job_changed(self, job: Job) -> None:
        """Republish the requester's tab soon; one refresh per person at a time, and none for people
        who never opened it (most never do, and each publish is an API call)."""
        key = (job.team_id, job.user_id)
        if key in self._pending:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(*key))
        self._pending[key] = task
        task.add_done_callback(lambda _: self._pending.pop(key, None))

    async def wait_idle(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    async def _refresh(self, team_id: str, user_id: str) -> None:
        try:
            if await self._store.has_home(team_id, user_id):
                await self.publish(team_id, user_id)
        except Exception as exc:  # a tab refresh must never disturb the job that triggered it
            log.warning("event=home_refresh_failed user=%s error=%s", user_id, type(exc).__name__)

    async def publish(self, team_id: str, user_id: str) -> None:
        """The person's tab, from their workspace's rows alone."""
        # Private: in the viewer's language, whoever's job changed to refresh it.
        with messages.speaking(self._people.language_known(team_id, user_id)):
            await self._publish(team_id, user_id)

    async def _publish(self, team_id: str, user_id: str) -> None:
        now = self._clock.now()
        today, month = self._quotas.today(now), self._quotas.this_month(now)
        local = datetime.fromtimestamp(now, ZoneInfo(self._settings.timezone))
        jobs = await self._store.recent_jobs_of(team_id, user_id, RECENT_JOBS)
        # From the summary the budgets read, as the chart and the budgets below are: one count of spending.
        spent_today = (await self._store.spent(team_id, USER, user_id, today.bounds)).cost_micros
        spent_month = (await self._store.spent(team_id, USER, user_id, month.bounds)).cost_micros
        admin_usage: list[messages.ChannelUsage] | None = None
        is_admin = False
        try:
            person = await self._people.get(user_id, team_id=team_id)
            is_admin = person.runs_the_workspace
            if person.runs_the_workspace:
                usage = await self._store.channel_usage(team_id, today.bounds)
                # Every channel's own limits in one read, not one read a channel.
                own = await self._store.channels_limits(team_id, list(usage))
                admin_usage = [
                    messages.ChannelUsage(channel, count, cost, self._quotas.limits_with(own.get(channel)).daily_jobs)
                    for channel, (count, cost) in usage.items()
                ]
        except SlackCallError as exc:
            log.info("event=home_admin_unchecked user=%s error=%s", user_id, exc.error)
        spending = await self._spending(team_id, user_id, is_admin, now)
        view = messages.home_view(
            jobs,
            spent_today,
            spent_month,
            admin_usage,
            await self._slack.workspace_url(),
            messages.month_name(local.date()),
            spending,
            await self._showcased(team_id) if self._settings.showcase_channel else None,
            key_blocks=await self._key_blocks(team_id, user_id, is_admin),
        )
        try:
            await self._slack.publish_home(user_id, view)
        except SlackCallError as exc:
            log.warning("event=home_publish_failed user=%s error=%s", user_id, exc.error)
            return
        log.info("event=home_published user=%s jobs=%d", user_id, len(jobs))

    async def _showcased(self, team_id: str) -> list[messages.Showcased]:
        """The workspace's latest showcased takes, newest first (a handful: one read, and a read of each job)."""
        found = []
        for take in await self._store.latest_takes(team_id, SHOWCASE, HOME_SHOWCASE_LIMIT):
            job = await self._store.get_job(take.job_id, team_id=team_id)
            if job is not None and take.message_ts:
                found.append(messages.Showcased(job, take.by_user, take.channel_id, take.message_ts))
        return found

    async def _spending(self, team_id: str, user_id: str, is_admin: bool, now: float) -> messages.HomeSpending:
        """The person's last 30 days (and the workspace's, for admins) and the budgets in money against
        their period so far: each a read of the summary spend_days, whatever the history."""
        days = [self._quotas.today(now)]
        while len(days) < CHART_DAYS:
            days.insert(0, previous_day(days[0], self._settings.timezone))
        period = (days[0].start, days[-1].end)
        mine = await self._store.spent_by_day(team_id, USER, user_id, period)
        workspace = await self._store.spent_by_day(team_id, WORKSPACE, "", period) if is_admin else None
        return messages.HomeSpending(
            days=_by_day(days, mine),
            workspace_days=_by_day(days, workspace) if workspace is not None else None,
            budgets=await self._budgets(team_id, user_id, is_admin, now),
        )

    async def _budgets(self, team_id: str, user_id: str, is_admin: bool, now: float) -> list[messages.BudgetUse]:
        today, month = self._quotas.today(now), self._quotas.this_month(now)
        settings, uses = self._settings, []
        if settings.monthly_budget_micros:
            spent = await self._store.spent(team_id, WORKSPACE, "", month.bounds)
            uses.append(
                messages.BudgetUse(messages.budget_name("workspace"), spent.cost_micros, settings.monthly_budget_micros)
            )
        if settings.daily_budget_micros_per_user:
            spent = await self._store.spent(team_id, USER, user_id, today.bounds)
            uses.append(
                messages.BudgetUse(
                    messages.budget_name("you"), spent.cost_micros, settings.daily_budget_micros_per_user
                )
            )
        if is_admin:
            channels = await self._store.spent_by_id(team_id, CHANNEL, month.bounds)
            own = await self._store.channels_limits(team_id, [channel for channel, _ in channels])
            budgeted = [(c, s, own[c].monthly_budget_micros or 0) for c, s in channels if c in own]
            uses += [
                messages.BudgetUse(messages.budget_name("channel", channel), spent.cost_micros, allowed)
                for channel, spent, allowed in [b for b in budgeted if b[2]][:CHANNEL_BUDGETS_SHOWN]
            ]
        return uses

    # --- the workspace's Perf key ----------------------------------------------------------------------

    async def _workspace(self, team_id: str) -> Workspace:
        assert self._keys is not None and self._keys.workspaces is not None
        return await self._keys.workspaces.find(team_id) or Workspace(None, team_id)

    async def may_set_key(self, team_id: str, user_id: str, is_admin: bool | None = None) -> bool:
        """A workspace admin or owner, or whoever installed videobot in the workspace."""
        if self._keys is None or self._keys.workspaces is None or not team_id:
            return False
        if user_id in await self._keys.workspaces.installers(team_id):
            return True
        if is_admin is None:
            try:
                is_admin = (await self._people.get(user_id, team_id=team_id)).runs_the_workspace
            except SlackCallError as exc:
                log.info("event=perf_key_admin_unchecked user=%s error=%s", user_id, exc.error)
                return False
        return is_admin

    async def _key_blocks(self, team_id: str, user_id: str, is_admin: bool) -> list[dict[str, object]] | None:
        """The Perf key section: None where no workspace can have a key of its own (no encryption key)."""
        if self._keys is None or self._keys.workspaces is None or not team_id:
            return None
        status = await self._keys.workspaces.perf_key_status(await self._workspace(team_id))
        blocks = messages.key_section(
            ends_in=status.last_four if status else None,
            set_by=status.set_by if status else None,
            set_at=status.set_at if status else None,
            operator_pays=self._keys.operator_pays,
            can_set=await self.may_set_key(team_id, user_id, is_admin),
        )
        if self._settings_for is not None:
            own = await workspace_admin.help_lines(self._settings_for, team_id)
            if own:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": own.strip()}})
        return blocks

    async def open_key_form(self, team_id: str, user_id: str, trigger_id: str) -> None:
        if not await self.may_set_key(team_id, user_id):
            log.info("event=perf_key_form_refused team=%s user=%s", team_id, user_id)
            return
        try:
            await self._slack.open_view(trigger_id, messages.perf_key_form())
        except SlackCallError as exc:
            log.warning("event=perf_key_form_not_opened user=%s error=%s", user_id, exc.error)

    async def set_key(self, team_id: str, user_id: str, typed: str) -> str | None:
        """Check `typed` with Perf and store it as the workspace's key; what is wrong, for the form, if not
        saved (None: saved). Never logs the key."""
        if self._keys is None or self._keys.workspaces is None or self._perf is None:
            return messages.KEY_NO_STORE
        if not await self.may_set_key(team_id, user_id):
            return messages.KEY_NOT_ALLOWED
        key = typed.strip()
        if not key:
            return messages.KEY_EMPTY
        if not key.isascii() or any(c.isspace() for c in key) or len(key) < 12:
            return messages.KEY_MALFORMED
        try:
            checked = await asyncio.wait_for(self._perf.check_key(key), KEY_CHECK_SECONDS)
        except (PerfError, TimeoutError) as exc:
            log.warning("event=perf_key_not_checked team=%s error=%s", team_id, type(exc).__name__)
            return messages.KEY_NOT_CHECKED
        if checked is KeyCheck.REFUSED:
            log.info("event=perf_key_refused team=%s user=%s", team_id, user_id)
            return messages.KEY_REFUSED
        workspace = await self._workspace(team_id)
        await self._keys.workspaces.set_perf_key(workspace, key, set_by=user_id, now=self._clock.now())
        self._keys.forget(team_id)
        return None
