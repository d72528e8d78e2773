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

from bot import messages
from bot.clients.slack import CHANNEL_GONE_ERRORS, PAYLOAD_REFUSED_ERRORS, SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import AT_PERF_STATES, TERMINAL_STATES, Job, JobState
from bot.domain.settings import Settings
from bot.jobs.approvals import ApprovalGate
from bot.jobs.delivery import Delivery
from bot.jobs.line import AccountLine
from bot.jobs.policy import MAX_CONSECUTIVE_FAILURES, MAX_FINALIZE_ATTEMPTS, MAX_STEPS_PER_CALL
from bot.jobs.polling import Polling
from bot.jobs.thread import JobThread
from bot.jobs.workflow_step import StepEnding
from bot.jobs.writer import JobWriter
from storage.db import StaleJob

log = logging.getLogger("videobot.jobs")


class JobMachine:
    def __init__(
        self,
        slack: SlackGateway,
        clock: Clock,
        settings: Settings,
        *,
        writer: JobWriter,
        thread: JobThread,
        line: AccountLine,
        polling: Polling,
        delivery: Delivery,
        step_ending: StepEnding,
        approvals: ApprovalGate,
    ) -> None:
        self._slack = slack
        self._clock = clock
        self._settings = settings
        self._writer = writer
        self._thread = thread
        self._line = line
        self._polling = polling
        self._delivery = delivery
        self._step_ending = step_ending
        self._approvals = approvals

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

    async def _step(self, job: Job) -> None:
        if job.approval_edits_due:
            # Decided (approved, denied, expired or withdrawn): every approver's copy says so first.
            await self._approvals.show_decision(job)
        if job.state in TERMINAL_STATES:
            await self._finalize(job)
        elif job.state == JobState.ACCEPTED:
            await self._announce_and_submit(job)
        elif job.state == JobState.AWAITING_APPROVAL:
            await self._prepare_thread(job)
            await self._approvals.step(job)
        elif job.root_ts is None and job.state != JobState.SUBMITTING:
            # Sent to Perf (or put in line) before its root was posted, and the post did not happen yet.
            await self._thread.post_root(job)
        elif job.state == JobState.QUEUED:
            await self._line.submit_when_a_slot_is_free(job)
        elif job.state == JobState.SUBMITTING:
            # Only a crash during the create leaves a job here: Perf may have it, so never send it again.
            await self._writer.set(
                job,
                event="create_outcome_unknown",
                state=JobState.UNKNOWN,
                error_message="the bot restarted while sending the job to Perf",
            )
        elif job.state in AT_PERF_STATES:
            await self._polling.poll(job)
        elif job.state == JobState.COMPLETE:
            await self._delivery.deliver(job)

    async def _after_crash(self, job: Job, exc: Exception) -> None:
        if job.poll_failures + 1 < MAX_CONSECUTIVE_FAILURES:
            await self._writer.retry_later(job, f"internal error {type(exc).__name__}")
        elif job.state in TERMINAL_STATES:
            log.error("job=%s event=finalize_gave_up error=%s", job.id, type(exc).__name__)
            await self._finalized_anyway(job)
        else:
            # The failure count restarts so the final edits get their own tries.
            await self._writer.fail(
                job, f"videobot hit an internal error ({type(exc).__name__}) and stopped this job", poll_failures=0
            )

    # --- accepted: the messages, then exactly one create ------------------------------------------

    async def _announce_and_submit(self, job: Job) -> None:
        if self._clock.now() - job.line_since > self._settings.job_timeout_seconds:
            minutes = round(self._settings.job_timeout_seconds / 60)
            await self._writer.fail(
                job, f"the job could not be started within {minutes} min; nothing was sent to Perf or charged"
            )
            return
        await self._writer.index_words(job)
        await self._prepare_thread(job)
        if job.root_ts is None and not await self._slack.known_postable(job.where):
            # Nobody pays for a video the bot could never show: a channel not known to take the bot's
            # messages gets the root first, and a refusal ends the job before anything reaches Perf.
            # Its progress message too, as the channel has room: both are recorded before the create.
            await self._thread.post_root(job, progress_too=True)
        # Paid work does not wait for the channel's pace: the root of a job in a channel the bot posted
        # in lately follows the create (and a restart in between posts it on the job's next step).
        await self._line.submit_when_a_slot_is_free(job)
        if job.root_ts is None:
            # Also when the create failed or its outcome is unknown: the thread says so, and the final edit
            # has a root to edit.
            await self._thread.post_root(job)

    async def _prepare_thread(self, job: Job) -> None:
        """What its root message needs first: the direct message of a private job, a rerun's link."""
        if job.private and job.post_channel_id is None:
            dm = await self._slack.open_dm(job.user_id)
            await self._writer.set(job, event="direct_message_opened", post_channel_id=dm)
        if job.rerun_of is not None and job.rerun_link is None:
            await self._writer.set(job, rerun_link=await self._thread.link_to(job.rerun_of, job.team_id))

    # --- terminal: the final edits ---------------------------------------------------------------

    async def _finalize(self, job: Job) -> None:
        if job.root_ts is None and _reached_perf(job) and job.error_message not in CHANNEL_GONE_ERRORS:
            # Sent to Perf before its root, and stopped (a kill) before the root was posted.
            await self._thread.post_root(job)
        if job.root_ts is None:
            # The channel never got a message: tell the requester privately instead.
            with messages.speaking(job.person_language):  # told to them: in the language they started it in
                told = (
                    messages.cannot_post_in_channel(job.error_message or "error", sent_to_perf=_reached_perf(job))
                    if job.error_message
                    else messages.internal_error()
                )
            await self._thread.tell_requester(job, told)
        elif not await self._thread.final_edits(job):
            # Another replica holds the claim to post its progress message: not a failure, so not counted.
            log.info("job=%s event=finalize_waits_for_progress_post", job.id)
            await self._writer.set(job, next_poll_at=self._clock.now() + self._settings.poll_min_seconds)
            return
        await self._step_ending.end(job)
        await self._writer.finalized(job)
        self._thread.forget(job.id)

    async def _finalized_anyway(self, job: Job) -> None:
        """Finalized without its final edits (Slack will not take them): its workflow step is still ended."""
        try:
            await self._step_ending.end(job)
        except SlackCallError as exc:
            log.warning("job=%s event=step_not_ended error=%s", job.id, exc.error)
        except Exception as exc:  # the job is being given up on because its steps crash: this may too
            log.warning("job=%s event=step_not_ended error=%s", job.id, type(exc).__name__)
        await self._writer.finalized(job)

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
                await self._writer.fail(job, exc.error, event="channel_unusable", poll_failures=0)
            if job.root_ts is None or job.state in TERMINAL_STATES:
                with messages.speaking(job.person_language):
                    told = messages.cannot_post_in_channel(exc.error, sent_to_perf=_reached_perf(job))
                await self._thread.tell_requester(job, told)
                await self._finalized_anyway(job)
            return
        if job.state in TERMINAL_STATES and job.poll_failures + 1 >= MAX_FINALIZE_ATTEMPTS:
            log.error("job=%s event=finalize_gave_up error=%s", job.id, exc.error)
            await self._finalized_anyway(job)
            return
        await self._writer.retry_later(job, str(exc))


def _reached_perf(job: Job) -> bool:
    """Whether Perf has (or may have) the job, so it may be charged."""
    return job.perf_job_id is not None or job.state == JobState.UNKNOWN
