"""An approver's click on Approve or Deny: who may decide, and the one decision that counts.

The decision is one conditional write of the job (`bot.jobs.approvals.decide`); the job's next step, run
by the poller, edits every copy of the request and carries the job on (to the line, or to its end).
"""

from __future__ import annotations

import logging

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain.approvals import may_decide
from bot.domain.clock import Clock
from bot.domain.job import Decision, Job, JobState
from bot.domain.settings import Settings
from bot.features.people import People
from bot.jobs.approvals import decide
from storage.db import Store

log = logging.getLogger("videobot.approvals")

Answer = messages.ApprovalAnswer


class ApprovalDesk:
    def __init__(self, store: Store, people: People, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._people = people
        self._clock = clock
        self._settings = settings

    async def check(self, team_id: str, job_id: str, user_id: str) -> tuple[Answer, Job | None]:
        """Whether `user_id` of workspace `team_id` may decide the job now: DECIDED means yes (nothing is
        written). A job of another workspace is NOT_FOUND, whatever its id."""
        job = await self._store.get_job(job_id, team_id=team_id)
        if job is None:
            return Answer.NOT_FOUND, None
        if job.state != JobState.AWAITING_APPROVAL:
            return Answer.ALREADY_DECIDED, job
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            log.warning("job=%s event=approval_unchecked user=%s error=%s", job.id, user_id, exc.error)
            return Answer.UNCHECKED, job
        if may_decide(job, user_id, runs_the_workspace=person.runs_the_workspace, settings=self._settings):
            return Answer.DECIDED, job
        log.info("job=%s event=approval_refused user=%s", job.id, user_id)
        own = user_id == job.user_id and (person.runs_the_workspace or user_id in self._settings.approvers)
        return (Answer.OWN_JOB if own else Answer.NOT_AN_APPROVER), job

    async def approve(self, team_id: str, job_id: str, user_id: str) -> tuple[Answer, Job | None]:
        return await self._decide(team_id, job_id, user_id, Decision.APPROVED, "")

    async def deny(self, team_id: str, job_id: str, user_id: str, reason: str) -> tuple[Answer, Job | None]:
        return await self._decide(team_id, job_id, user_id, Decision.DENIED, reason)

    async def _decide(
        self, team_id: str, job_id: str, user_id: str, decision: Decision, note: str
    ) -> tuple[Answer, Job | None]:
        answer, job = await self.check(team_id, job_id, user_id)
        if answer != Answer.DECIDED or job is None:
            return answer, job
        if await decide(self._store, job, decision, by=user_id, now=self._clock.now(), note=note):
            return Answer.DECIDED, job
        # Someone else decided (or the request expired, or it was cancelled) between the read and the write.
        return Answer.ALREADY_DECIDED, await self._store.get_job(job_id, team_id=team_id)
