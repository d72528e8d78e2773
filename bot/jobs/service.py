"""A job's life, one step at a time, with the jobs table as the single source of truth.

Every step follows one rule: write the state, do the side effect, record what it produced. Each step
looks only at the stored row, so a restart at any point (kill -9 included) resumes where it stopped:

    accepted ─ post root + progress messages ─▶ submitting ─ create at Perf ─▶ pending/processing
    pending/processing ─ poll ─▶ complete ─ stream the video into the thread ─▶ delivered
    any ─▶ failed; submitting found after a restart ─▶ unknown (never resubmitted: it may be paid for)
    terminal ─ edit the root and progress messages to the final state ─▶ finalized
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot import messages
from bot.clients.media import MediaError, MediaFetcher
from bot.clients.pacing import Priority
from bot.clients.perf import (
    JobStatus,
    PerfClient,
    PerfNotFound,
    PerfOutcomeUnknown,
    PerfRejected,
    PerfRetryLater,
)
from bot.clients.slack import (
    CHANNEL_GONE_ERRORS,
    PAYLOAD_REFUSED_ERRORS,
    UPLOAD_REFUSED_ERRORS,
    SlackCallError,
    SlackGateway,
)
from bot.domain.clock import Clock
from bot.domain.job import AT_PERF_STATES, TERMINAL_STATES, Job, JobState, new_job_id
from bot.domain.quotas import ChannelLimits, QuotaExceeded, Usage, check_usage
from bot.domain.request import VideoRequest
from bot.domain.settings import Settings
from bot.jobs.progress_posts import ProgressPosts
from bot.jobs.quotas import Quotas
from storage.db import StaleJob, Store

log = logging.getLogger("videobot.jobs")

MAX_DELIVERY_ATTEMPTS = 6
MAX_FINALIZE_ATTEMPTS = 5
# A step that keeps crashing (a bug, a broken disk) ends the job with a message rather than looping.
MAX_CONSECUTIVE_FAILURES = 12
MAX_BACKOFF_SECONDS = 120.0
# How many places at the front of the line get their thread edited when they move up: each move
# costs one chat.update per job, and Slack allows about one a second per channel.
QUEUE_POSITIONS_SHOWN = 25
# Waiting in line is normal (a Free plan runs one job at a time), so it has its own, longer deadline.
MAX_QUEUE_WAIT_SECONDS = 24 * 3600.0
ETA_MARGIN_SECONDS = 0.25
PROGRESS_EDIT_MIN_GAP_SECONDS = 3.0
FINISHING_POLL_SECONDS = 0.5
# Trusting an estimate has a limit: a job that fails at Perf is noticed within this long.
MAX_POLL_GAP_SECONDS = 60.0
# One call of advance() runs at most this many steps back to back; the rest waits for the next tick.
MAX_STEPS_PER_CALL = 8


def next_poll_delay(status: JobStatus, min_seconds: float, refresh_seconds: float) -> float:
    """Poll just after Perf expects to be done; without an estimate, twice per progress refresh.

    Progress between polls is shown from the estimate (see `_refresh_progress`), so a long job costs
    a poll to learn its estimate and one to find it done, not one every few seconds.
    """
    if status.status == "processing" and status.eta_seconds == 0:
        # About to finish: look again shortly, even below the minimum gap, so the video is not left waiting.
        return FINISHING_POLL_SECONDS
    if status.eta_seconds is not None and status.eta_seconds > 0:
        # Perf rounds its estimate to whole seconds; a little after it the job is usually done.
        wanted = status.eta_seconds + ETA_MARGIN_SECONDS
    else:
        wanted = refresh_seconds / 2
    return max(min_seconds, min(MAX_POLL_GAP_SECONDS, wanted))


def estimated_progress(percent: int | None, eta_seconds: int | None, elapsed: float) -> tuple[int, int] | None:
    """Where a job should be `elapsed` seconds after Perf said `percent` with `eta_seconds` left."""
    if percent is None or eta_seconds is None or eta_seconds <= 0:
        return None
    done = min(1.0, elapsed / eta_seconds)
    return min(99, round(percent + (100 - percent) * done)), max(0, round(eta_seconds - elapsed))


def backoff_delay(failures: int, min_seconds: float, retry_after: float | None = None) -> float:
    if retry_after is not None:
        return max(min_seconds, retry_after)
    return min(MAX_BACKOFF_SECONDS, min_seconds * 2.0 ** max(0, failures - 1))


def request_of(job: Job) -> VideoRequest:
    return VideoRequest(
        prompt=job.prompt,
        model=job.model,
        duration_seconds=job.duration_seconds,
        resolution=job.resolution,
        aspect_ratio=job.aspect_ratio,
        private=job.private,
    )


class JobService:
    def __init__(
        self,
        store: Store,
        perf: PerfClient,
        slack: SlackGateway,
        media: MediaFetcher,
        clock: Clock,
        settings: Settings,
        quotas: Quotas,
    ) -> None:
        self._quotas = quotas
        self._progress_edited: dict[str, float] = {}  # job id → last progress edit (this process only)
        # Told the lag from "complete at Perf" to "in the thread" of each delivered video (metrics).
        self.on_delivered: Callable[[float], None] = lambda lag_seconds: None
        # Told of every state change (the requester's App Home is republished); must not block or raise.
        self.on_state_change: Callable[[Job], None] = lambda job: None
        self._store = store
        self._perf = perf
        self._slack = slack
        self._media = media
        self._clock = clock
        self._settings = settings
        self._progress_posts = ProgressPosts(store, slack, clock, messages.progress_message, settings.lease_seconds)

    async def close(self, grace_seconds: float) -> None:
        await self._progress_posts.close(grace_seconds)

    async def wait_idle(self) -> None:
        """Until the progress messages asked for are posted and every edit is sent (tests, shutdown)."""
        await self._progress_posts.wait_idle()
        await self._slack.wait_idle()

    async def start(
        self, request: VideoRequest, *, team_id: str, channel_id: str, user_id: str, response_url: str
    ) -> Job:
        """Store a new job, due at once. Called before the command is acknowledged.

        Raises ChannelNotAllowed or QuotaExceeded, having stored nothing.
        """
        job = self._new_job(request, team_id=team_id, channel_id=channel_id, user_id=user_id, response_url=response_url)
        await self._insert_within_quota(job)
        self._log_accepted(job)
        return job

    async def start_rerun(
        self, source: Job, request: VideoRequest, *, user_id: str, trigger: str, response_url: str = ""
    ) -> Job | None:
        """Store a rerun of `source` for `user_id`; None if `trigger` already started one."""
        job = self._new_job(
            request, team_id=source.team_id, channel_id=source.channel_id, user_id=user_id, response_url=response_url
        )
        job.rerun_of = source.id
        job.private = source.private
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
            id=new_job_id(),
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
            "job=%s event=accepted channel=%s user=%s model=%s duration=%s rerun_of=%s",
            job.id,
            job.channel_id,
            job.user_id,
            job.model,
            job.duration_seconds,
            job.rerun_of or "-",
        )

    async def advance(self, job: Job) -> None:
        """Run the job's due steps; never raises, so one bad job cannot stop the poller."""
        for _ in range(MAX_STEPS_PER_CALL):
            if job.next_poll_at is None or job.next_poll_at > self._clock.now():
                return
            try:
                await self._step(job)
            except StaleJob:
                # Changed elsewhere (cancelled from the command line): the next tick reads it afresh.
                log.info("job=%s event=changed_elsewhere", job.id)
                return
            except SlackCallError as exc:
                await self._on_slack_error(job, exc)
            except Exception as exc:
                log.exception("job=%s event=step_crashed state=%s error=%s", job.id, job.state, type(exc).__name__)
                await self._after_crash(job, exc)

    async def _after_crash(self, job: Job, exc: Exception) -> None:
        if job.poll_failures + 1 < MAX_CONSECUTIVE_FAILURES:
            await self._retry_later(job, f"internal error {type(exc).__name__}")
        elif job.state in TERMINAL_STATES:
            await self._set(job, event="finalize_gave_up", finalized=True, next_poll_at=None)
        else:
            # The failure count restarts so the final edits get their own tries.
            await self._fail(
                job, f"videobot hit an internal error ({type(exc).__name__}) and stopped this job", poll_failures=0
            )

    async def _step(self, job: Job) -> None:
        if job.state in TERMINAL_STATES:
            await self._finalize(job)
        elif job.state == JobState.ACCEPTED:
            await self._announce_and_submit(job)
        elif job.root_ts is None and job.state != JobState.SUBMITTING:
            # Sent to Perf (or put in line) before its root was posted, and the post did not happen yet.
            await self._post_root(job)
        elif job.state == JobState.QUEUED:
            await self._submit_when_a_slot_is_free(job)
        elif job.state == JobState.SUBMITTING:
            # Only a crash during the create leaves a job here: Perf may have it, so never send it again.
            await self._set(
                job,
                event="create_outcome_unknown",
                state=JobState.UNKNOWN,
                error_message="the bot restarted while sending the job to Perf",
            )
        elif job.state in AT_PERF_STATES:
            await self._poll(job)
        elif job.state == JobState.COMPLETE:
            await self._deliver(job)

    async def _set(self, job: Job, *, event: str = "", **changes: Any) -> None:
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

    async def _retry_later(self, job: Job, reason: str, retry_after: float | None = None) -> None:
        failures = job.poll_failures + 1
        delay = backoff_delay(failures, self._settings.poll_min_seconds, retry_after)
        log.warning("job=%s event=retry_later state=%s in=%.1fs reason=%s", job.id, job.state, delay, reason)
        await self._set(job, poll_failures=failures, next_poll_at=self._clock.now() + delay)

    async def _fail(self, job: Job, message: str, event: str = "failed", **changes: Any) -> None:
        await self._set(job, event=event, state=JobState.FAILED, error_message=message, **changes)

    # --- accepted: the messages, then exactly one create ------------------------------------------

    async def _announce_and_submit(self, job: Job) -> None:
        if self._clock.now() - job.created_at > self._settings.job_timeout_seconds:
            minutes = round(self._settings.job_timeout_seconds / 60)
            await self._fail(
                job, f"the job could not be started within {minutes} min; nothing was sent to Perf or charged"
            )
            return
        if job.private and job.post_channel_id is None:
            await self._set(job, event="direct_message_opened", post_channel_id=await self._slack.open_dm(job.user_id))
        if job.rerun_of is not None and job.rerun_link is None:
            await self._set(job, rerun_link=await self._link_to(job.rerun_of))
        if job.root_ts is None and not await self._slack.known_postable(job.where):
            # Nobody pays for a video the bot could never show: a channel not known to take the bot's
            # messages gets the root first, and a refusal ends the job before anything reaches Perf.
            # Its progress message too, as the channel has room: both are recorded before the create.
            await self._post_root(job, progress_too=True)
        # Paid work does not wait for the channel's pace: the root of a job in a channel the bot posted
        # in lately follows the create (and a restart in between posts it on the job's next step).
        await self._submit_when_a_slot_is_free(job)
        if job.root_ts is None:
            # Also when the create failed or its outcome is unknown: the thread says so, and the final edit
            # has a root to edit.
            await self._post_root(job)

    async def _post_root(self, job: Job, *, progress_too: bool = False) -> None:
        ts = await self._slack.post_message(
            job.where, self._root_message(job), priority=Priority.ROOT, label=f"job={job.id} message=root"
        )
        await self._set(job, event="root_posted", root_ts=ts)
        if progress_too:
            await self._progress_posts.now(job, Priority.ROOT)
        else:
            self._progress_posts.want(job)

    # --- queued: waiting for one of the account's concurrent slots ----------------------------------

    async def wake_queue(self) -> None:
        """Make due the jobs in line that may now get a slot or have moved up (called every tick)."""
        if self._settings.max_concurrent_jobs <= 0:
            return  # no limit: nothing ever waits in line
        await self._store.wake_queue(self._settings.max_concurrent_jobs, self._clock.now(), QUEUE_POSITIONS_SHOWN)

    async def _submit_when_a_slot_is_free(self, job: Job) -> None:
        if await self._store.claim_slot(job, self._settings.max_concurrent_jobs, self._clock.now()):
            log.info("job=%s event=submitting", job.id)
            await self._submit(job)
            return
        if job.state == JobState.QUEUED and self._clock.now() - job.created_at > MAX_QUEUE_WAIT_SECONDS:
            hours = round(MAX_QUEUE_WAIT_SECONDS / 3600)
            await self._fail(job, f"the job waited in line for {hours} h; nothing was sent to Perf or charged")
            return
        position = await self._store.queue_position(job)
        moved = position != job.queue_position
        entered = job.state != JobState.QUEUED
        # Nobody waits on a timer: the poller wakes the line when a slot frees or a place changes.
        await self._set(
            job,
            event="queued" if entered else "",
            state=JobState.QUEUED,
            queue_position=position,
            # Still due while it has no root, so that a restart before the root is posted posts it.
            next_poll_at=None if job.root_ts is not None else self._clock.now(),
        )
        if moved:
            await self._show_progress(job)
        if entered:
            await self._show_root(job)

    async def _submit(self, job: Job) -> None:
        try:
            created = await self._perf.create(request_of(job))
        except PerfRetryLater as exc:
            # Perf's 429 means nothing was created: the job goes back to the head of the line (its place
            # is its arrival) and waits out Retry-After before it tries for a slot again.
            await self._set(job, event="perf_busy", state=JobState.QUEUED, submitted_at=None)
            await self._retry_later(job, str(exc), exc.retry_after)
            return
        except PerfRejected as exc:
            await self._fail(job, _rejection_text(exc), event="rejected_by_perf")
            return
        except PerfOutcomeUnknown as exc:
            await self._set(job, event="create_outcome_unknown", state=JobState.UNKNOWN, error_message=str(exc))
            return
        await self._set(
            job,
            event=f"submitted perf_job_id={created.perf_job_id}",
            state=JobState.PROCESSING if created.status == "processing" else JobState.PENDING,
            perf_job_id=created.perf_job_id,
            poll_failures=0,
            next_poll_at=self._clock.now() + self._settings.poll_min_seconds,
        )
        await self._show_progress(job)
        await self._show_root(job)

    # --- pending / processing: polling -----------------------------------------------------------

    async def _poll(self, job: Job) -> None:
        assert job.perf_job_id is not None
        started = job.submitted_at or job.created_at
        if job.perf_poll_due is not None and self._clock.now() < job.perf_poll_due:
            await self._refresh_progress(job)
            return
        if self._clock.now() - started > self._settings.job_timeout_seconds:
            minutes = round(self._settings.job_timeout_seconds / 60)
            await self._fail(
                job,
                f"Perf did not finish within {minutes} min, so I stopped waiting (it may still be charged)",
                event="timed_out",
            )
            return
        try:
            status = await self._perf.status(job.perf_job_id)
        except PerfNotFound:
            await self._fail(job, "Perf no longer knows this job (404)", event="perf_not_found")
            return
        except (PerfRetryLater, PerfRejected) as exc:
            await self._retry_later(job, str(exc), getattr(exc, "retry_after", None))
            return

        if status.status == "failed":
            await self._set(job, perf_cost_micros=status.cost_micros)
            await self._fail(job, status.error_message or "Perf reported a failure without a reason")
        elif status.status == "complete":
            await self._set(
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
            await self._show_progress(job)
        else:
            before = messages.progress_message(job)["text"], job.state
            new_state = JobState.PROCESSING if status.status == "processing" else JobState.PENDING
            now = self._clock.now()
            poll_due = now + next_poll_delay(status, self._settings.poll_min_seconds, self._settings.poll_max_seconds)
            await self._set(
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
            if messages.progress_message(job)["text"] != before[0]:
                await self._show_progress(job, throttled=job.state == before[1])
            if job.state != before[1]:
                await self._show_root(job)

    @property
    def _refresh_seconds(self) -> float:
        # A due job waits up to one poller tick, and the edit itself takes a moment: aim early enough that
        # the progress message never goes longer than VIDEOBOT_POLL_MAX_SECONDS without an update.
        max_gap = self._settings.poll_max_seconds
        return max(max_gap / 2, max_gap - self._settings.poll_tick_seconds - 0.5)

    async def _refresh_progress(self, job: Job) -> None:
        """Between polls, move the progress message along Perf's own estimate; no call to Perf."""
        assert job.perf_poll_due is not None
        now = self._clock.now()
        estimate = estimated_progress(job.progress_percent, job.eta_seconds, now - (job.progress_at or now))
        next_at = min(job.perf_poll_due, now + self._refresh_seconds)
        if estimate is None:
            await self._set(job, next_poll_at=next_at)
            return
        before = messages.progress_message(job)["text"]
        await self._set(
            job, progress_percent=estimate[0], eta_seconds=estimate[1], progress_at=now, next_poll_at=next_at
        )
        if messages.progress_message(job)["text"] != before:
            await self._show_progress(job, throttled=True)

    async def _show_progress(self, job: Job, *, throttled: bool = False) -> None:
        """Edit the progress message. A mere progress update is skipped if the message was edited in the
        last few seconds (Slack rate-limits chat.update per channel); state changes always go out, and
        the next refresh shows whatever was skipped."""
        now = self._clock.now()
        if throttled and now - self._progress_edited.get(job.id, float("-inf")) < PROGRESS_EDIT_MIN_GAP_SECONDS:
            return
        self._progress_edited[job.id] = now
        if job.state in TERMINAL_STATES:
            self._progress_edited.pop(job.id, None)
        if job.progress_ts is None:
            self._progress_posts.want(job)
            return
        self._edit(job, job.progress_ts, messages.progress_message(job), "progress", Priority.BACKGROUND)

    async def _show_root(self, job: Job) -> None:
        self._edit(job, job.root_ts, self._root_message(job), "root", Priority.ROOT)

    def _root_message(self, job: Job) -> messages.Message:
        return messages.root_message(job, rerun_emoji=self._settings.rerun_emoji[0])

    async def _link_to(self, job_id: str) -> str:
        """A permalink to the job's root message, or "" (the message then names the job instead)."""
        source = await self._store.get_job(job_id)
        if source is None or source.root_ts is None:
            return ""
        try:
            return await self._slack.permalink(source.where, source.root_ts)
        except SlackCallError as exc:
            log.warning("job=%s event=permalink_failed error=%s", job_id, exc.error)
            return ""

    def _edit(self, job: Job, ts: str | None, message: messages.Message, which: str, priority: Priority) -> None:
        """Edit a message in place while the job runs, without waiting for Slack's pace; only the newest
        content is sent, and a failed edit is logged, not worth failing the job (the final edits retry)."""
        if ts is not None:
            self._slack.edit_soon(
                job.where,
                ts,
                message,
                priority=priority,
                label=f"job={job.id} message={which}",
                # One process (SQLite) sees every change of its jobs: its final edits replace stale ones.
                still_wanted=None if self._store.engine == "sqlite" else lambda: self._still_running(job.id),
            )

    async def _still_running(self, job_id: str) -> bool:
        """An edit of a running job is stale once the job has ended: its final edits show the end."""
        stored = await self._store.get_job(job_id)
        return stored is not None and stored.state not in TERMINAL_STATES

    # --- complete: the video into the thread -----------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        assert job.root_ts is not None and job.video_url is not None
        if not job.upload_sent:
            try:
                await self._stream_video(job)
            except MediaError as exc:
                await self._on_media_error(job, exc)
                return
            except SlackCallError as exc:
                await self._on_upload_error(job, exc)
                return
        try:
            await self._slack.complete_upload(
                job.upload_file_id or "", messages.upload_title(job), job.where, job.root_ts
            )
        except SlackCallError as exc:
            await self._on_upload_error(job, exc)
            return
        await self._set(
            job, event="delivered", state=JobState.DELIVERED, file_shared=True, delivered_at=self._clock.now()
        )
        if job.completed_at is not None:
            self.on_delivered(self._clock.now() - job.completed_at)

    async def _stream_video(self, job: Job) -> None:
        assert job.video_url is not None
        async with self._media.open(job.video_url) as download:
            upload_url, file_id = await self._slack.start_upload(messages.video_filename(job), download.size)
            await self._set(job, event=f"uploading bytes={download.size}", upload_file_id=file_id)
            await self._slack.send_upload(upload_url, download.chunks, download.size)
        # The bytes are at Slack but not yet shared: from here on, only completing the upload remains.
        await self._set(job, upload_sent=True)

    async def _on_media_error(self, job: Job, exc: MediaError) -> None:
        if exc.retryable and job.poll_failures + 1 < MAX_DELIVERY_ATTEMPTS:
            await self._retry_later(job, str(exc))
        elif exc.retryable or exc.link_allowed:
            await self._deliver_link(job, str(exc))
        else:
            await self._fail(job, f"I did not fetch the video: {exc}", event="video_refused")

    async def _on_upload_error(self, job: Job, exc: SlackCallError) -> None:
        if exc.error in UPLOAD_REFUSED_ERRORS or exc.error.startswith("http_4"):
            await self._deliver_link(job, f"{exc.method}: {exc.error}")
        elif exc.error in CHANNEL_GONE_ERRORS:
            raise exc
        elif job.poll_failures + 1 < MAX_DELIVERY_ATTEMPTS:
            await self._retry_later(job, str(exc))
        else:
            await self._deliver_link(job, f"{exc.method}: {exc.error}")

    async def _deliver_link(self, job: Job, note: str) -> None:
        await self._set(
            job,
            event="delivered_as_link",
            state=JobState.DELIVERED,
            delivered_as_link=True,
            delivery_note=note,
            delivered_at=self._clock.now(),
        )

    # --- terminal: the final edits ---------------------------------------------------------------

    async def _finalize(self, job: Job) -> None:
        if job.root_ts is None and _reached_perf(job) and job.error_message not in CHANNEL_GONE_ERRORS:
            # Sent to Perf before its root, and stopped (a kill) before the root was posted.
            await self._post_root(job)
        if job.root_ts is None:
            # The channel never got a message: tell the requester privately instead.
            await self._tell_requester(
                job,
                messages.cannot_post_in_channel(job.error_message or "error", sent_to_perf=_reached_perf(job))
                if job.error_message
                else messages.internal_error(),
            )
        else:
            label = f"job={job.id} message="
            progress_ts, posted_as_it_is = await self._progress_posts.now(job)
            if progress_ts is None:
                # Another replica holds the claim to post it: not a failure, so not counted as one.
                log.info("job=%s event=finalize_waits_for_progress_post", job.id)
                await self._set(job, next_poll_at=self._clock.now() + self._settings.poll_min_seconds)
                return
            if not posted_as_it_is:
                await self._slack.update_message(
                    job.where, progress_ts, messages.progress_message(job), label=label + "progress"
                )
            await self._slack.update_message(job.where, job.root_ts, self._root_message(job), label=label + "root")
        await self._set(job, event="finalized", finalized=True, next_poll_at=None)
        self._progress_edited.pop(job.id, None)

    async def _tell_requester(self, job: Job, message: messages.Message) -> None:
        """Privately, through the command's response_url, else as an ephemeral; never raises."""
        if not await self._slack.tell_privately(job.where, job.user_id, message, job.response_url):
            log.warning("job=%s event=requester_not_told", job.id)

    async def _on_slack_error(self, job: Job, exc: SlackCallError) -> None:
        # Slack will never take this (the channel is gone, or even the plain-text version was refused),
        # or has failed so often that waiting longer helps nobody: end the job and say so.
        hopeless = exc.error in CHANNEL_GONE_ERRORS or exc.error in PAYLOAD_REFUSED_ERRORS
        if not hopeless and job.state not in TERMINAL_STATES and job.poll_failures + 1 >= MAX_CONSECUTIVE_FAILURES:
            # A job Perf has keeps trying (its video may still be shown) until the job's own deadline.
            overdue = self._clock.now() - job.created_at > self._settings.job_timeout_seconds
            hopeless = not _reached_perf(job) or overdue
        if hopeless:
            log.warning("job=%s event=channel_unusable state=%s error=%s", job.id, job.state, exc.error)
            if job.state not in TERMINAL_STATES:
                await self._set(
                    job, state=JobState.FAILED, error_message=exc.error, event="channel_unusable", poll_failures=0
                )
            if job.root_ts is None or job.state in TERMINAL_STATES:
                await self._tell_requester(
                    job, messages.cannot_post_in_channel(exc.error, sent_to_perf=_reached_perf(job))
                )
                await self._set(job, event="finalized", finalized=True, next_poll_at=None)
            return
        if job.state in TERMINAL_STATES and job.poll_failures + 1 >= MAX_FINALIZE_ATTEMPTS:
            log.error("job=%s event=finalize_gave_up error=%s", job.id, exc.error)
            await self._set(job, event="finalized", finalized=True, next_poll_at=None)
            return
        await self._retry_later(job, str(exc))


def _reached_perf(job: Job) -> bool:
    """Whether Perf has (or may have) the job, so it may be charged."""
    return job.perf_job_id is not None or job.state == JobState.UNKNOWN


def _rejection_text(exc: PerfRejected) -> str:
    if exc.status in (401, 403):
        return f"Perf refused videobot's API key (HTTP {exc.status}); ask whoever runs videobot to check PERF_API_KEY"
    if exc.status is None:
        return f"{exc} (try again in a minute)"
    return f"Perf refused the job: {exc}"
