"""What people do to jobs that exist: cancel one, list their own, look at one's details."""

from __future__ import annotations

import logging

from bot.clients.slack import SlackCallError
from bot.domain.clock import Clock
from bot.domain.job import TERMINAL_STATES, CancelOutcome, Decision, Job, JobChanges, JobState
from bot.features.people import People
from storage.db import StaleJob, Store

log = logging.getLogger("videobot.control")


async def stop_tracking(store: Store, job: Job, now: float, who: str) -> Job:
    """Cancel `job` for `who`. Perf has no cancel, so the job only stops being tracked; it is due at once
    so the poller edits its messages to say so. Raises StaleJob if the job moved meanwhile.

    A job awaiting approval is withdrawn: the approvers' copies of its request are edited to say so."""
    changes: JobChanges = {
        "state": JobState.CANCELLED,
        "error_message": f"cancelled by {who}",
        "updated_at": now,
        "next_poll_at": now,
    }
    if job.state == JobState.AWAITING_APPROVAL:
        changes |= {"approval": Decision.WITHDRAWN.value, "approval_by": who, "approval_at": now}
        changes["approval_edits_due"] = True
    return await store.update_job(job, event=f"cancelled by {who}", **changes)


class JobControl:
    def __init__(self, store: Store, people: People, clock: Clock) -> None:
        self._store = store
        self._people = people
        self._clock = clock

    async def cancel(
        self, team_id: str, job_id: str, user_id: str, channel_id: str | None = None
    ) -> tuple[CancelOutcome, Job | None]:
        """Only the requester or a workspace admin may cancel. Perf has no cancel: the job stops being
        tracked, and its messages say it may still be charged. Another workspace's job is not found."""
        job = await self._store.get_job(job_id, team_id=team_id)
        if job is None or (channel_id is not None and channel_id not in (job.channel_id, job.where)):
            return CancelOutcome.NOT_FOUND, None
        if job.state in TERMINAL_STATES:
            return CancelOutcome.ALREADY_ENDED, job
        if job.user_id != user_id:
            try:
                person = await self._people.get(user_id, team_id=team_id)
            except SlackCallError as exc:
                log.warning("job=%s event=cancel_unchecked user=%s error=%s", job.id, user_id, exc.error)
                return CancelOutcome.UNCHECKED, job
            if not person.runs_the_workspace:
                log.info("job=%s event=cancel_refused user=%s", job.id, user_id)
                return CancelOutcome.NOT_YOURS, job
        try:
            await stop_tracking(self._store, job, self._clock.now(), user_id)
        except StaleJob:
            fresh = await self._store.get_job(job_id, team_id=team_id)
            return CancelOutcome.ALREADY_ENDED, fresh
        log.info("job=%s event=cancelled by=%s", job.id, user_id)
        return CancelOutcome.CANCELLED, job

    async def unfinished(self, team_id: str, channel_id: str, user_id: str) -> list[Job]:
        waiting = [s for s in JobState if s not in TERMINAL_STATES]
        listed = await self._store.jobs(team_id=team_id, states=waiting, channel_id=channel_id)
        jobs = [job for job in listed if job.user_id == user_id]
        # Each waiting job's place as the line stands now (a thread's place may be a moment behind).
        for job_id, place in (await self._store.places_in_line(jobs)).items():
            next(job for job in jobs if job.id == job_id).queue_position = place
        return jobs

    async def details(self, team_id: str, job_id: str) -> tuple[Job, list[tuple[float, str, str]]] | None:
        job = await self._store.get_job(job_id, team_id=team_id)
        if job is None:
            return None
        return job, await self._store.job_events(job.id)
