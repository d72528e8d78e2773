"""A job at Perf: polled when Perf expects it done, and moved along Perf's own estimate in between."""

from __future__ import annotations

from bot.clients.perf import JobStatus, PerfClient, PerfNotFound, PerfRejected, PerfRetryLater
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.domain.progress import progress_shown
from bot.domain.settings import Settings
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.policy import estimated_progress, next_poll_delay, refresh_seconds
from bot.jobs.thread import JobThread
from bot.jobs.writer import JobWriter


class Polling:
    def __init__(
        self, perf: PerfClient, clock: Clock, settings: Settings, writer: JobWriter, thread: JobThread, keys: PerfKeys
    ) -> None:
        self._perf = perf
        self._keys = keys
        self._clock = clock
        self._settings = settings
        self._writer = writer
        self._thread = thread
        self._refresh_seconds = refresh_seconds(settings)

    async def poll(self, job: Job) -> None:
        assert job.perf_job_id is not None
        started = job.submitted_at or job.created_at
        if job.perf_poll_due is not None and self._clock.now() < job.perf_poll_due:
            await self._refresh_progress(job)
            return
        if self._clock.now() - started > self._settings.job_timeout_seconds:
            minutes = round(self._settings.job_timeout_seconds / 60)
            await self._writer.fail(
                job,
                f"Perf did not finish within {minutes} min, so I stopped waiting (it may still be charged)",
                event="timed_out",
            )
            return
        key = await self._keys.for_job(job)
        if key is None:
            # Its workspace's key was removed (an uninstall, `videobot workspaces forget`): Perf cannot be asked.
            await self._writer.fail(
                job, "this workspace's Perf API key was removed, so videobot can no longer ask Perf for the video"
            )
            return
        try:
            status = await self._perf.status(job.perf_job_id, api_key=key.value)
        except PerfNotFound:
            await self._writer.fail(job, "Perf no longer knows this job (404)", event="perf_not_found")
            return
        except (PerfRetryLater, PerfRejected) as exc:
            await self._writer.retry_later(job, str(exc), getattr(exc, "retry_after", None))
            return

        await self._record(job, status)

    async def _record(self, job: Job, status: JobStatus) -> None:
        """What Perf answered, into the job, and into its thread when what it shows has changed."""
        if status.status == "failed":
            await self._writer.set(job, perf_cost_micros=status.cost_micros)
            await self._writer.fail(job, status.error_message or "Perf reported a failure without a reason")
        elif status.status == "complete":
            await self._writer.set(
                job,
                event="complete",
                state=JobState.COMPLETE,
                video_url=status.video_url,
                perf_cost_micros=status.cost_micros,
                generation_ms=status.generation_ms,
                completed_at=self._clock.now(),
                progress_percent=100,
                poll_failures=0,
                next_poll_at=self._clock.now(),
            )
            self._thread.show_progress(job)
        else:
            shown_before, state_before = progress_shown(job), job.state
            new_state = JobState.PROCESSING if status.status == "processing" else JobState.PENDING
            now = self._clock.now()
            poll_due = now + next_poll_delay(status, self._settings.poll_min_seconds, self._settings.poll_max_seconds)
            await self._writer.set(
                job,
                event="processing" if new_state != job.state else "",
                state=new_state,
                progress_percent=status.progress_percent,
                eta_seconds=status.eta_seconds,
                progress_at=now,
                poll_failures=0,
                perf_poll_due=poll_due,
                next_poll_at=min(poll_due, now + self._refresh_seconds),
            )
            if progress_shown(job) != shown_before:
                self._thread.show_progress(job, throttled=job.state == state_before)
            if job.state != state_before:
                self._thread.show_root(job)

    async def _refresh_progress(self, job: Job) -> None:
        """Between polls, move the progress message along Perf's own estimate; no call to Perf."""
        assert job.perf_poll_due is not None
        now = self._clock.now()
        estimate = estimated_progress(job.progress_percent, job.eta_seconds, now - (job.progress_at or now))
        next_at = min(job.perf_poll_due, now + self._refresh_seconds)
        if estimate is None:
            await self._writer.set(job, next_poll_at=next_at)
            return
        shown_before = progress_shown(job)
        await self._writer.set(
            job, progress_percent=estimate[0], eta_seconds=estimate[1], progress_at=now, next_poll_at=next_at
        )
        if progress_shown(job) != shown_before:
            self._thread.show_progress(job, throttled=True)
