"""The account's line: a job waits for one of the account's concurrent slots at Perf, then is created once.

The slot is claimed in the jobs table, in the fair line's turns (bot/domain/line.py: the person with the
fewest jobs at Perf first, then the one served least recently; each person's jobs in their order), so the
line holds across restarts and replicas; nobody waits on a timer, as the poller wakes the line when a slot
frees or a place changes.
"""

from __future__ import annotations

import logging

from bot.clients.perf import PerfClient, PerfOutcomeUnknown, PerfRejected, PerfRetryLater
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.domain.request import request_of
from bot.domain.settings import Settings
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.policy import MAX_QUEUE_WAIT_SECONDS, QUEUE_POSITIONS_SHOWN
from bot.jobs.thread import JobThread
from bot.jobs.writer import JobWriter
from storage.db import Store

log = logging.getLogger("videobot.jobs")


class AccountLine:
    def __init__(
        self,
        store: Store,
        perf: PerfClient,
        clock: Clock,
        settings: Settings,
        writer: JobWriter,
        thread: JobThread,
        keys: PerfKeys,
    ) -> None:
        self._store = store
        self._keys = keys
        self._perf = perf
        self._clock = clock
        self._settings = settings
        self._writer = writer
        self._thread = thread

    async def wake(self) -> None:
        """Make due the jobs in line that may now get a slot or have moved up (called every tick)."""
        if self._settings.max_concurrent_jobs <= 0:
            return  # no limit: nothing ever waits in line
        await self._store.wake_queue(
            self._settings.max_concurrent_jobs,
            self._clock.now(),
            QUEUE_POSITIONS_SHOWN,
            cap=self._settings.max_running_per_person,
        )

    async def submit_when_a_slot_is_free(self, job: Job) -> None:
        limit, cap = self._settings.max_concurrent_jobs, self._settings.max_running_per_person
        if await self._store.claim_slot(job, limit, self._clock.now(), cap=cap):
            log.info("job=%s event=submitting", job.id)
            await self._submit(job)
            return
        if job.state == JobState.QUEUED and self._clock.now() - job.line_since > MAX_QUEUE_WAIT_SECONDS:
            hours = round(MAX_QUEUE_WAIT_SECONDS / 3600)
            await self._writer.fail(job, f"the job waited in line for {hours} h; nothing was sent to Perf or charged")
            return
        position = await self._store.queue_position(job)
        moved = position != job.queue_position
        entered = job.state != JobState.QUEUED
        await self._writer.set(
            job,
            event="queued" if entered else "",
            state=JobState.QUEUED,
            queue_position=position,
            # Still due while it has no root, so that a restart before the root is posted posts it.
            next_poll_at=None if job.root_ts is not None else self._clock.now(),
        )
        if moved:
            self._thread.show_progress(job)
        if entered:
            self._thread.show_root(job)

    async def _submit(self, job: Job) -> None:
        key = await self._keys.for_job(job)
        if key is None:
            # Its workspace's key was removed after it was admitted, and the operator pays for nobody.
            await self._writer.fail(job, NO_KEY_TEXT, event="no_perf_key")
            return
        try:
            created = await self._perf.create(request_of(job), api_key=key.value)
        except PerfRetryLater as exc:
            # Perf's 429 means nothing was created: the job goes back to the head of the line (its place
            # is its arrival) and waits out Retry-After before it tries for a slot again.
            await self._writer.set(job, event="perf_busy", state=JobState.QUEUED, submitted_at=None)
            await self._writer.retry_later(job, str(exc), exc.retry_after)
            return
        except PerfRejected as exc:
            if exc.status in (401, 403):
                self._keys.forget(job.team_id)  # it may have just been replaced: read it again next time
            await self._writer.fail(job, _rejection_text(exc, own_key=key.own), event="rejected_by_perf")
            return
        except PerfOutcomeUnknown as exc:
            await self._writer.set(job, event="create_outcome_unknown", state=JobState.UNKNOWN, error_message=str(exc))
            return
        await self._writer.set(
            job,
            event=f"submitted perf_job_id={created.perf_job_id}",
            state=JobState.PROCESSING if created.status == "processing" else JobState.PENDING,
            perf_job_id=created.perf_job_id,
            poll_failures=0,
            next_poll_at=self._clock.now() + self._settings.poll_min_seconds,
        )
        self._thread.show_progress(job)
        self._thread.show_root(job)


NO_KEY_TEXT = (
    "this workspace has no Perf API key any more, so nothing was sent to Perf or charged; "
    "an admin can add one in videobot's App Home"
)


def _rejection_text(exc: PerfRejected, *, own_key: bool = False) -> str:
    if exc.status in (401, 403) and own_key:
        return (
            f"Perf refused this workspace's API key (HTTP {exc.status}); an admin can set a new one in videobot's "
            "App Home"
        )
    if exc.status in (401, 403):
        return f"Perf refused videobot's API key (HTTP {exc.status}); ask whoever runs videobot to check PERF_API_KEY"
    if exc.status is None:
        return f"{exc} (try again in a minute)"
    return f"Perf refused the job: {exc}"
