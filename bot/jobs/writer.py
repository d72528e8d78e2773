"""The one way a step changes a job: write the row (fenced by its state and lease), then tell who listens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Unpack

from bot.domain.clock import Clock
from bot.domain.job import TERMINAL_STATES, Job, JobChanges, JobState
from bot.domain.settings import Settings
from bot.jobs.policy import backoff_delay
from storage.db import Store

log = logging.getLogger("videobot.jobs")


class JobWriter:
    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        # Told of every state change (the requester's App Home is republished); must not block or raise.
        self.on_state_change: Callable[[Job], None] = lambda job: None

    async def set(self, job: Job, *, event: str = "", **changes: Unpack[JobChanges]) -> None:
        now = self._clock.now()
        changes.setdefault("updated_at", now)
        if "state" in changes and changes["state"] in TERMINAL_STATES:
            changes.setdefault("next_poll_at", now)  # due at once: finalize next
        state_before = job.state
        # A leased job is written only while its lease holds: a replica whose lease ran out gets StaleJob.
        await self._store.update_job(job, event=event, lease=job.lease_owner, **changes)
        if job.state != state_before:
            self.on_state_change(job)
        if event:
            log.info("job=%s event=%s state=%s", job.id, event, job.state)

    async def index_words(self, job: Job) -> None:
        """The words of its prompt, for `/video history`: written by the job's first step rather than in its
        admission, which would hold every command of a burst behind them; a repeated step writes nothing new."""
        await self._store.index_words(job)

    async def retry_later(self, job: Job, reason: str, retry_after: float | None = None) -> None:
        failures = job.poll_failures + 1
        delay = backoff_delay(failures, self._settings.poll_min_seconds, retry_after)
        log.warning("job=%s event=retry_later state=%s in=%.1fs reason=%s", job.id, job.state, delay, reason)
        await self.set(job, poll_failures=failures, next_poll_at=self._clock.now() + delay)

    async def fail(self, job: Job, message: str, event: str = "failed", **changes: Unpack[JobChanges]) -> None:
        changes["state"] = JobState.FAILED
        changes["error_message"] = message
        await self.set(job, event=event, **changes)

    async def finalized(self, job: Job) -> None:
        """Nothing more is done for the job, so its secrets go: the command's response_url (it posts as the
        bot to the requester for 30 minutes) and its workflow step's token are not kept at rest."""
        await self.set(job, event="finalized", finalized=True, next_poll_at=None, response_url="", step_token=None)
