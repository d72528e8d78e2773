"""A new job is stored, due at once, within the channel's and the person's limits: one transaction.

Called before the command is acknowledged, so a job exists exactly when the person was told it does.
"""

from __future__ import annotations

import logging

from bot.domain.clock import Clock
from bot.domain.job import Job, JobState, new_job_id
from bot.domain.quotas import ChannelLimits, QuotaExceeded, Usage, check_usage
from bot.domain.request import VideoRequest
from bot.jobs.quotas import Quotas
from storage.db import JobIdTaken, Store

log = logging.getLogger("videobot.jobs")
# Two ids of one hour collide once in billions of draws; three in a row would mean the randomness is broken.
_ID_DRAWS = 3


class Admission:
    def __init__(self, store: Store, clock: Clock, quotas: Quotas) -> None:
        self._store = store
        self._clock = clock
        self._quotas = quotas

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
        job = self._new_job(request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url=response_url)
        job.thread_ts = None if request.private else thread_ts
        await self._insert_within_quota(job)
        self._log_accepted(job)
        return job

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
        job = self._new_job(request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url="")
        job.step_execution_id, job.step_token = execution_id, token
        if not await self._insert_within_quota(job, f"step:{execution_id}"):
            return None
        self._log_accepted(job)
        return job

    async def start_rerun(
        self,
        source: Job,
        request: VideoRequest,
        *,
        user_id: str,
        trigger: str,
        response_url: str = "",
        remix: bool = False,
    ) -> Job | None:
        """Store a rerun of `source` for `user_id` (with `remix`, its settings changed in the form); None if
        `trigger` already started one."""
        job = self._new_job(
            request, team_id=source.team_id, channel_id=source.channel_id, user_id=user_id, response_url=response_url
        )
        job.rerun_of = source.id
        job.remix = remix
        job.private = source.private or request.private  # a remix of a private job stays private
        job.thread_ts = source.thread_ts  # a rerun goes where its original is
        if not await self._insert_within_quota(job, trigger):
            return None
        self._log_accepted(job)
        return job

    async def _insert_within_quota(self, job: Job, trigger: str | None = None) -> bool:
        self._quotas.ensure_allowed(job.channel_id)
        day = self._quotas.today(job.created_at)

        def check(usage: Usage, own_limits: ChannelLimits | None) -> None:
            check_usage(self._quotas.limits_with(own_limits), usage, job.estimated_cost_micros, day)

        try:
            for _ in range(_ID_DRAWS - 1):
                try:
                    return await self._store.insert_job(job, trigger=trigger, day=day.bounds, check=check)
                except JobIdTaken:
                    log.info("job=%s event=job_id_taken", job.id)
                    job.id = new_job_id(job.created_at)
            return await self._store.insert_job(job, trigger=trigger, day=day.bounds, check=check)
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

    def _new_job(self, request: VideoRequest, *, team_id: str, channel_id: str, user_id: str, response_url: str) -> Job:
        now = self._clock.now()
        return Job(
            id=new_job_id(now),
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            prompt=request.prompt,
            model=request.model,
            duration_seconds=request.duration_seconds,
            resolution=request.resolution,
            aspect_ratio=request.aspect_ratio,
            estimated_cost_micros=request.estimated_cost_micros,
            state=JobState.ACCEPTED,
            created_at=now,
            updated_at=now,
            response_url=response_url,
            next_poll_at=now,
            private=request.private,
        )

    def _log_accepted(self, job: Job) -> None:
        log.info(
            "job=%s event=accepted channel=%s user=%s model=%s duration=%s rerun_of=%s remix=%s",
            job.id,
            job.channel_id,
            job.user_id,
            job.model,
            job.duration_seconds,
            job.rerun_of or "-",
            int(job.remix),
        )
