"""A new job is stored, due at once, within the channel's and the person's limits: one transaction.

Called before the command is acknowledged, so a job exists exactly when the person was told it does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot import messages
from bot.clients.slack_workspaces import current_workspace
from bot.domain import drafts
from bot.domain.approvals import needs_approval
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState, new_job_id
from bot.domain.perf_keys import OPERATOR_LINE
from bot.domain.quotas import ChannelLimits, QuotaExceeded, Setting, Usage, check_usage
from bot.domain.request import VideoRequest, comparison_takes, style_kept
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.quotas import Quotas
from bot.jobs.workspace_settings import WorkspaceSettings
from storage.db import JobIdTaken, Store

log = logging.getLogger("videobot.jobs")
# Two ids of one hour collide once in billions of draws; three in a row would mean the randomness is broken.
_ID_DRAWS = 3


class Admission:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        quotas: Quotas,
        *,
        approval_over_micros: int = 0,
        keys: PerfKeys | None = None,
        settings_for: WorkspaceSettings | None = None,
    ) -> None:
        self._store = store
        # A workspace's own quotas, budgets, approval limit and channels (its admins' overrides).
        self._settings_for = settings_for
        # Who pays: a workspace with no Perf key (and no operator's) starts nothing (NoPerfKey).
        self._keys = keys
        self._clock = clock
        self._quotas = quotas
        # Above it, a job admitted within the quotas holds its place but waits for an approver (bot/jobs/approvals.py).
        self._approval_over_micros = approval_over_micros

    async def start(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        response_url: str,
        thread_ts: str | None = None,
    ) -> Job:
        """Store a new job. Raises ChannelNotAllowed or QuotaExceeded, having stored nothing.

        `thread_ts`: post it in that thread of the channel (a private job goes to a direct message instead)."""
        line = await self._someone_pays(team_id)
        job = self._new_job(
            request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url=response_url, line=line
        )
        job.thread_ts = None if request.private else thread_ts
        await self._insert_within_quota(job)
        self._log_accepted(job)
        return job

    async def start_comparison(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        response_url: str,
        thread_ts: str | None = None,
    ) -> list[Job]:
        """Store one job per model of a comparison (`request.models`), all in one admission or none.

        The quotas and budgets count the whole comparison, and so does approval: over the approval limit
        in total, every take waits for an approver. Raises ChannelNotAllowed or QuotaExceeded, having stored
        nothing."""
        line = await self._someone_pays(team_id)
        jobs = [
            self._new_job(
                take.request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url="", line=line
            )
            for take in comparison_takes(request)
        ]
        total = sum(job.estimated_cost_micros for job in jobs)
        for job in jobs:
            job.thread_ts = None if request.private else thread_ts
            job.comparison_cost_micros = total
            if needs_approval(total, self._approval_over_micros):
                job.state = JobState.AWAITING_APPROVAL
        # The command's private answers go to the first take's response_url alone.
        jobs[0].response_url = response_url
        await self._insert_within_quota(jobs[0], more=jobs[1:])
        for job in jobs:
            self._log_accepted(job)
        return jobs

    async def start_once(
        self,
        request: VideoRequest,
        *,
        trigger: str | None,
        team_id: str,
        channel_id: str,
        user_id: str,
        thread_ts: str | None,
    ) -> Job | None:
        """`start`, keyed by what asked for it (a form's view): None if `trigger` already started a job.

        Slack delivers a view_submission again when the answer is slow or lost; the key is stored with the
        job in its admission's transaction, so one form starts at most one paid job, across restarts too."""
        line = await self._someone_pays(team_id)
        job = self._new_job(
            request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url="", line=line
        )
        job.thread_ts = None if request.private else thread_ts
        return await self._store_once(job, trigger)

    async def start_for_step(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        execution_id: str,
        token: str,
    ) -> Job | None:
        """Store the job a Workflow Builder step asked for; None if that execution already started one."""
        line = await self._someone_pays(team_id)
        job = self._new_job(
            request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url="", line=line
        )
        job.step_execution_id, job.step_token = execution_id, token
        return await self._store_once(job, f"step:{execution_id}")

    async def start_rerun(
        self,
        source: Job,
        request: VideoRequest,
        *,
        user_id: str,
        trigger: str,
        response_url: str = "",
        full_version: bool = False,
        remix: bool = False,
    ) -> Job | None:
        """Store a rerun of `source` for `user_id`; None if `trigger` already started one.

        `full_version`: `request` is the full version of `source`, a draft, rather than another take of it.
        `remix`: its settings were changed in the Remix form."""
        line = await self._someone_pays(source.team_id)
        job = self._new_job(
            request,
            team_id=source.team_id,
            channel_id=source.channel_id,
            user_id=user_id,
            response_url=response_url,
            line=line,
        )
        job.rerun_of = source.id
        job.remix = remix
        job.enterprise_id = job.enterprise_id or source.enterprise_id  # its workspace's org, as its original's
        job.private = source.private or request.private  # a remix of a private job stays private
        # A rerun goes where its original is; one made private (a remix's "only me") to a DM, whose threads differ.
        job.thread_ts = None if job.private else source.thread_ts
        # The prompt run again ends with its style; a remix's edited prompt may not, and then none was added.
        job.style = style_kept(job.prompt, source.style)
        job.full_of_draft = full_version
        # Another take of a draft is one, and its full version is not; a remix is one if "Draft first" was
        # ticked on its form (its settings picked anew), as _new_job made it.
        if full_version:
            job.full_settings = None
        elif not remix:
            job.full_settings = source.full_settings
        return await self._store_once(job, trigger)

    async def _store_once(self, job: Job, trigger: str | None) -> Job | None:
        """Store `job` within the quotas unless `trigger` already started one (then None)."""
        if not await self._insert_within_quota(job, trigger):
            return None
        self._log_accepted(job)
        return job

    async def _insert_within_quota(self, job: Job, trigger: str | None = None, more: Sequence[Job] = ()) -> bool:
        """Store `job`, and `more` with it (all or none), if their count and cost fit the quotas and budgets."""
        quotas = await self._quotas_of(job, more)
        quotas.ensure_allowed(job.channel_id)
        await self._set_languages([job, *more])
        day = quotas.today(job.created_at)
        month = quotas.this_month(job.created_at)
        jobs = [job, *more]
        for each in jobs:
            each.spend_day = day.start
        cost = sum(each.estimated_cost_micros for each in jobs)
        # A cheaper setting to suggest is one job's; a comparison refused for money names none.
        asked = None if more else Setting(job.model, job.duration_seconds, job.estimated_cost_micros)
        _name_takes(jobs)

        def check(usage: Usage, own_limits: ChannelLimits | None) -> None:
            limits = quotas.limits_with(own_limits)
            check_usage(limits, usage, cost, day, month, asked, jobs=len(jobs))

        async def insert() -> bool:
            return await self._store.insert_job(
                job,
                trigger=trigger,
                day=day.bounds,
                check=check,
                month=month.bounds,
                count_account=quotas.counts_account,
                more=more,
            )

        try:
            for _ in range(_ID_DRAWS - 1):
                try:
                    return await insert()
                except JobIdTaken as taken:
                    for each in jobs:
                        if each.id == str(taken):
                            log.info("job=%s event=job_id_taken", each.id)
                            each.id = new_job_id(each.created_at)
                    _name_takes(jobs)
            return await insert()
        except QuotaExceeded as exc:
            log.info(
                "event=quota_refused channel=%s user=%s limit=%s used=%d allowed=%d",
                job.channel_id,
                job.user_id,
                exc.which,
                exc.used,
                exc.allowed,
            )
            raise

    async def _set_languages(self, jobs: Sequence[Job]) -> None:
        """The languages a job keeps for its whole life: its requester's (the one being spoken to them now),
        and its messages' (the channel's `/video defaults --language`, else the workspace's; a private job's
        are its requester's)."""
        person = messages.language()
        channel: str | None = None
        for job in jobs:
            job.person_language = job.person_language or person
            if job.language is None and job.private:
                job.language = job.person_language
            elif job.language is None:
                channel = channel or await self._channel_language(job.team_id, job.channel_id, job.user_id)
                job.language = channel

    async def _channel_language(self, team_id: str, channel_id: str, user_id: str) -> str:
        _yours, channel = await self._store.defaults_for(team_id, channel_id, user_id)
        return messages.resolve(channel.options.get("language") if channel else None)

    async def _quotas_of(self, job: Job, more: Sequence[Job]) -> Quotas:
        """The quotas of `job`'s workspace: the operator's, or with its admins' overrides, which may also
        change whether it (and `more`, the rest of a comparison) waits for an approver."""
        if self._settings_for is None:
            return self._quotas
        overrides = await self._settings_for.overrides(job.team_id)
        if not overrides:
            return self._quotas
        settings = await self._settings_for.for_team(job.team_id)
        if settings.approval_over_micros != self._approval_over_micros:
            for each in (job, *more):
                cost = each.comparison_cost_micros or each.estimated_cost_micros
                approval = needs_approval(cost, settings.approval_over_micros)
                each.state = JobState.AWAITING_APPROVAL if approval else JobState.ACCEPTED
        return Quotas(self._store, settings)

    async def _someone_pays(self, team_id: str) -> str:
        """The account line of the key that will pay for `team_id`'s job (bot.domain.line); raises NoPerfKey,
        before anything is stored, when no key would."""
        if self._keys is None:
            return OPERATOR_LINE
        return (await self._keys.require(team_id)).line

    def _new_job(
        self,
        asked: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        response_url: str,
        line: str = OPERATOR_LINE,
    ) -> Job:
        """The job of a request; a draft (`asked.draft`) runs the preview and keeps the settings asked for."""
        now = self._clock.now()
        request = drafts.draft_of(asked) if asked.draft else asked
        acting = current_workspace()  # the request's workspace, with its Grid org
        return Job(
            id=new_job_id(now),
            team_id=team_id,
            enterprise_id=acting.enterprise_id if acting.team_id == team_id else "",
            line=line,
            channel_id=channel_id,
            user_id=user_id,
            prompt=request.prompt_sent,
            model=request.model,
            duration_seconds=request.duration_seconds,
            resolution=request.resolution,
            aspect_ratio=request.aspect_ratio,
            estimated_cost_micros=request.estimated_cost_micros,
            state=JobState.AWAITING_APPROVAL
            if needs_approval(request.estimated_cost_micros, self._approval_over_micros)
            else JobState.ACCEPTED,
            created_at=now,
            updated_at=now,
            response_url=response_url,
            next_poll_at=now,
            private=request.private,
            style=request.style or None,
            full_settings=drafts.full_settings(asked) if asked.draft else None,
        )

    def _log_accepted(self, job: Job) -> None:
        # A comparison's take says which comparison it is part of (its first take's id).
        compared = job.compared[0][0] if job.compared else "-"
        log.info(
            "job=%s event=accepted channel=%s user=%s model=%s duration=%s rerun_of=%s remix=%s comparison=%s",
            job.id,
            job.channel_id,
            job.user_id,
            job.model,
            job.duration_seconds,
            job.rerun_of or "-",
            int(job.remix),
            compared,
        )


def _name_takes(jobs: Sequence[Job]) -> None:
    """Each take of a comparison names them all (Job.comparison); a lone job names none."""
    if len(jobs) > 1:
        named = ",".join(f"{job.id}:{job.model}" for job in jobs)
        for job in jobs:
            job.comparison = named
