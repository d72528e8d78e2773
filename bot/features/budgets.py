"""Budgets in money, beyond the refusal at admission (issue 19): the one notice when a budget passes 80%,
and `/video report month`.

A notice is claimed in the database before it is posted (`budget_notices`), as the daily reports are, so
each budget warns once per period, ever, whichever restart or replica sees it pass first. A channel's
budgets warn in that channel; the workspace's in `VIDEOBOT_REPORT_CHANNEL`, or where no report channel
is set, in the channel of the job that took it past 80%.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.approvals import is_approver
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.domain.quotas import Day
from bot.domain.settings import Settings
from bot.features.people import NamedAnswers, People
from bot.jobs.quotas import Quotas
from bot.jobs.workspace_settings import WorkspaceSettings
from storage.db import Store
from storage.spend import CHANNEL, MODEL, USER, WORKSPACE

log = logging.getLogger("videobot.budgets")

# A budget warns once it is this much spent: 4/5, kept as a fraction so money stays in whole micro-dollars.
WARN_SHARE = (4, 5)
# `/video report month` names this many of the month's people, the biggest spenders (a users.info each,
# cached, within the command's 3 seconds); the rest are counted.
MONTH_PEOPLE_NAMED = 25
# The moves after which a job's spend may have grown: its first after admission (in line, accepted by
# Perf, or unknown after a create that may have reached it), or Perf said what it charged. Other moves
# change no spend upward, and are not worth the reads. (The slot claim, to submitting, tells no listener.)
_SPEND_GROWS = frozenset({JobState.QUEUED, JobState.PENDING, JobState.UNKNOWN, JobState.COMPLETE})


@dataclass(frozen=True)
class _Budget:
    name: str  # channel_day, channel_month, workspace_month: the claim's key
    scope: str
    scope_id: str
    period: Day
    allowed_micros: int
    post_in: str
    timezone: str  # the workspace's (its admins' `timezone`, else VIDEOBOT_TIMEZONE)


class BudgetWatch:
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
    ) -> None:
        """`settings_for`: each workspace's own settings (its budgets, time zone and report channel)."""
        self._settings_for = settings_for
        self._store = store
        self._quotas = quotas
        self._people = people
        self._named = named
        self._slack = slack
        self._clock = clock
        self._settings = settings
        self._pending: set[asyncio.Task[None]] = set()

    def job_changed(self, job: Job) -> None:
        """Check the job's budgets soon, off its step's path; must not block or raise."""
        if job.state not in _SPEND_GROWS or not job.holds_quota:
            return
        task = asyncio.get_running_loop().create_task(self._check(job))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def wait_idle(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _check(self, job: Job) -> None:
        try:
            for budget in await self._budgets_of(job):
                spent = await self._going_ahead(job.team_id, budget)
                if spent * WARN_SHARE[1] >= budget.allowed_micros * WARN_SHARE[0]:
                    await self._warn_once(budget, spent, job)
        except Exception as exc:  # a warning must never disturb the job that triggered it
            log.warning("job=%s event=budget_check_failed error=%s", job.id, type(exc).__name__)

    async def _going_ahead(self, team_id: str, budget: _Budget) -> int:
        """What the budget's period spent, but for the jobs awaiting approval: each holds its estimate
        against the budget, yet may be denied, and the notice goes out once per period ever. An approved
        job is checked again as it moves on."""
        spent = await self._store.spent(team_id, budget.scope, budget.scope_id, budget.period.bounds)
        channel = budget.scope_id if budget.scope == CHANNEL else None
        held = await self._store.awaiting_approval_micros(team_id, channel, budget.period.bounds)
        return spent.cost_micros - held

    async def _for(self, team_id: str) -> tuple[Settings, Quotas]:
        """The settings that apply to `team_id` (its admins' over the operator's), and its quotas."""
        if self._settings_for is None:
            return self._settings, self._quotas
        settings = await self._settings_for.for_team(team_id)
        return settings, (self._quotas if settings is self._settings else Quotas(self._store, settings))

    async def _budgets_of(self, job: Job) -> list[_Budget]:
        settings, quotas = await self._for(job.team_id)
        limits = await quotas.limits(job.team_id, job.channel_id)
        day, month = quotas.today(job.created_at), quotas.this_month(job.created_at)
        channel, tz = job.channel_id, settings.timezone
        # The workspace's report channel (with many workspaces, only one its admins set), else the job's.
        workspace_in = settings.report_channel or channel
        budgets = [
            _Budget("channel_day", CHANNEL, channel, day, limits.daily_budget_micros, channel, tz),
            _Budget("channel_month", CHANNEL, channel, month, limits.monthly_budget_micros, channel, tz),
            _Budget("workspace_month", WORKSPACE, "", month, limits.workspace_monthly_micros, workspace_in, tz),
        ]
        return [b for b in budgets if b.allowed_micros]

    def _notice(self, budget: _Budget, spent: int, now: float) -> messages.Message:
        tz = budget.timezone
        resets = (
            messages.resets_text(budget.period.end, now, tz)
            if budget.name == "channel_day"
            else messages.month_resets_text(budget.period.end, now, tz)
        )
        notice = messages.BudgetNotice(
            whose="workspace" if budget.scope == WORKSPACE else "channel",
            period="day" if budget.name == "channel_day" else "month",
            label=budget.period.label,
            spent_micros=spent,
            allowed_micros=budget.allowed_micros,
            resets=resets,
        )
        return messages.budget_notice(notice)

    async def _warn_once(self, budget: _Budget, spent: int, job: Job) -> None:
        now = self._clock.now()
        if not await self._store.claim_notice(job.team_id, budget.name, budget.scope_id, budget.period.label, now):
            return
        # Posted in a channel: a channel's budget in the language the job's channel had, the workspace's in its.
        with messages.speaking(job.language if budget.scope != WORKSPACE else messages.workspace_language()):
            message = self._notice(budget, spent, now)
        try:
            ts = await self._slack.post_message(budget.post_in, message)
        except SlackCallError as exc:
            # Claimed, so not retried: a warning posted twice is worse than one missing.
            log.warning("job=%s event=budget_notice_failed budget=%s error=%s", job.id, budget.name, exc.error)
            return
        await self._store.notice_posted(job.team_id, budget.name, budget.scope_id, budget.period.label, ts)
        log.info(
            "job=%s event=budget_notice_posted budget=%s channel=%s period=%s spent_micros=%d allowed_micros=%d",
            job.id,
            budget.name,
            budget.post_in,
            budget.period.label,
            spent,
            budget.allowed_micros,
        )

    async def report_month(self, team_id: str, user_id: str, response_url: str = "") -> messages.Message:
        """`/video report month`: the month so far by channel, person and model, privately. Each channel's and
        person's spend (private channels' too) only for admins and approvers, as App Home; others see their own."""
        now = self._clock.now()
        settings, quotas = await self._for(team_id)
        month = quotas.this_month(now)
        total = await self._store.spent(team_id, WORKSPACE, "", month.bounds)
        by_model = await self._store.spent_by_id(team_id, MODEL, month.bounds)
        models = [messages.Spending(k, s.jobs, s.cost_micros) for k, s in by_model]
        budget = messages.MonthBudget(
            resets=messages.month_resets_text(month.end, now, settings.timezone),
            allowed_micros=settings.monthly_budget_micros,
            awaiting_micros=await self._store.awaiting_approval_micros(team_id, None, month.bounds),
        )
        everyone = messages.Spending("", total.jobs, total.cost_micros)
        if not await self._sees_every_spend(team_id, user_id):
            own = await self._store.spent(team_id, USER, user_id, month.bounds)
            yours = messages.Spending(user_id, own.jobs, own.cost_micros)
            return messages.month_report(month.label, everyone, [], [], models, {}, budget, yours=yours)
        by = {scope: await self._store.spent_by_id(team_id, scope, month.bounds) for scope in (CHANNEL, USER)}
        rows = {
            scope: [messages.Spending(key, s.jobs, s.cost_micros) for key, s in found] for scope, found in by.items()
        }
        # The biggest spenders are named (a users.info each, cached): those not known yet follow the ack.
        people = rows[USER][:MONTH_PEOPLE_NAMED]
        return await self._named.answer(
            [row.key for row in people],
            lambda names: messages.month_report(
                month.label,
                everyone,
                rows[CHANNEL],
                people,
                models,
                names,
                budget,
                people_left_out=len(rows[USER]) - len(people),
            ),
            response_url,
            team_id=team_id,
        )

    async def _sees_every_spend(self, team_id: str, user_id: str) -> bool:
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            log.warning("event=report_viewer_unchecked user=%s error=%s", user_id, exc.error)
            return user_id in self._settings.approvers  # unknown to Slack just now: only the listed approvers
        return is_approver(user_id, runs_the_workspace=person.runs_the_workspace, settings=self._settings)
