"""Approval for expensive jobs, as steps of the job machine: ask the approvers, expire, show the decision.

A job whose estimate is over VIDEOBOT_APPROVAL_OVER_USD is stored in awaiting_approval (admission), holding
its quota place but outside the account's line. Its first step posts its thread ("waiting for approval")
and one copy of the request per conversation (the approval channel, else each approver's direct
messages), each recorded, then makes the job due again when the request expires. A decision is one
conditional write of the job's row (`decide`): approved, it is accepted and goes on as any job; denied
or expired, it fails without reaching Perf, and gives its quota place back (a failed job Perf never had
holds none). The job's next step edits every copy of the request to show who decided.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.clients.pacing import Priority
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.approvals import approval_due_at, asked_directly, is_approver
from bot.domain.clock import Clock
from bot.domain.job import Decision, Job, JobChanges, JobState
from bot.domain.settings import Settings
from bot.jobs.thread import JobThread
from bot.jobs.workspace_settings import WorkspaceSettings
from bot.jobs.writer import JobWriter
from storage.db import StaleJob, Store

log = logging.getLogger("videobot.jobs")

NOTHING_CHARGED = "nothing was sent to Perf or charged"


async def decide(
    store: Store, job: Job, decision: Decision, *, by: str, now: float, note: str = "", hours: float = 0.0
) -> bool:
    """Record `decision` on `job` if it is still awaiting approval: True for the one call that did.

    One UPDATE fenced by the state the job was read in, on either engine: two approvers at once, a click
    Slack delivered twice, a click racing the expiry, a restart between click and answer all end with
    exactly one decision; the others get False (read the job again to see who decided)."""
    changes: JobChanges = {
        "approval": decision.value,
        "approval_by": by,
        "approval_at": now,
        "approval_note": note or None,
        "approval_edits_due": True,
        "updated_at": now,
        "next_poll_at": now,
    }
    if decision == Decision.APPROVED:
        changes["state"] = JobState.ACCEPTED
    elif decision == Decision.DENIED:
        reason = f": {note}" if note else ""
        changes |= {"state": JobState.FAILED, "error_message": f"denied by {by}{reason}; {NOTHING_CHARGED}"}
    else:
        changes |= {
            "state": JobState.FAILED,
            "error_message": f"nobody approved it within {hours:g} h; {NOTHING_CHARGED}",
        }
    if job.state != JobState.AWAITING_APPROVAL:
        return False
    try:
        await store.update_job(job, event=f"approval_{decision.value} by={by or '-'}", **changes)
    except StaleJob:
        return False
    log.info("job=%s event=approval_%s by=%s", job.id, decision.value, by or "-")
    return True


class ApprovalGate:
    def __init__(
        self,
        store: Store,
        slack: SlackGateway,
        clock: Clock,
        settings: Settings,
        writer: JobWriter,
        thread: JobThread,
        settings_for: WorkspaceSettings | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock
        self._defaults = settings
        # A workspace's own approval limit and approvers' channel, over the operator's.
        self._settings_for = settings_for
        self._writer = writer
        self._thread = thread

    async def _settings_of(self, job: Job) -> Settings:
        return await self._settings_for.for_team(job.team_id) if self._settings_for else self._defaults

    async def step(self, job: Job) -> None:
        """A due job awaiting approval: expire it, let an approver's own job through, or ask the approvers."""
        settings = await self._settings_of(job)
        now = self._clock.now()
        due = approval_due_at(job, settings)
        if now >= due:
            await decide(self._store, job, Decision.EXPIRED, by="", now=now, hours=settings.approval_hours)
            return
        # A workflow step's job is asked for like anyone's: whoever the step names, it never approves itself.
        if settings.approve_own and job.step_execution_id is None and await self._requester_approves(job, settings):
            await decide(self._store, job, Decision.APPROVED, by=job.user_id, now=now)
            return
        if job.root_ts is None:
            await self._thread.post_root(job)
        asked = await self._ask(job, settings)
        if asked == 0:
            if settings.approval_channel:
                why = "the approval request could not be posted in VIDEOBOT_APPROVAL_CHANNEL (is videobot in it?)"
            elif asked_directly(job, settings):
                why = "the approval request could not be sent to any of VIDEOBOT_APPROVERS"
            else:
                why = "nobody else can approve it (VIDEOBOT_APPROVE_OWN=0, and VIDEOBOT_APPROVERS names no one else)"
            await self._writer.fail(job, f"{why}; {NOTHING_CHARGED}", event="approval_not_asked")
            return
        await self._writer.set(job, event=f"approval_requested copies={asked}", next_poll_at=due)
        # Stored in this state, so no state change told the requester's App Home of it yet.
        self._writer.on_state_change(job)

    async def _requester_approves(self, job: Job, settings: Settings) -> bool:
        if job.user_id in settings.approvers:
            return True
        try:
            person = await self._slack.user_info(job.user_id)
        except SlackCallError as exc:
            # Asked like anyone's job: an admin can still approve it where the request is posted.
            log.warning("job=%s event=approver_unchecked user=%s error=%s", job.id, job.user_id, exc.error)
            return False
        return is_approver(job.user_id, runs_the_workspace=person.runs_the_workspace, settings=settings)

    async def _ask(self, job: Job, settings: Settings) -> int:
        """Post the copies of the request not posted yet; how many copies exist after."""
        posted = {channel for channel, _ in await self._store.approval_copies(job.team_id, job.id)}
        targets = [settings.approval_channel] if settings.approval_channel else []
        for user in asked_directly(job, settings):
            try:
                targets.append(await self._slack.open_dm(user))
            except SlackCallError as exc:
                log.warning("job=%s event=approval_copy_failed approver=%s error=%s", job.id, user, exc.error)
        # The approvers read it where it is posted: in the workspace's language (the job's own is its channel's).
        with messages.speaking(messages.workspace_language()):
            request = messages.approval_request(
                job, limit_micros=settings.approval_over_micros, hours=settings.approval_hours
            )
        for channel in targets:
            if channel in posted:
                continue
            try:
                ts = await self._slack.post_message(
                    channel, request, priority=Priority.ROOT, label=f"job={job.id} message=approval_request"
                )
            except SlackCallError as exc:
                log.warning("job=%s event=approval_copy_failed channel=%s error=%s", job.id, channel, exc.error)
                continue
            await self._store.add_approval_copy(job.team_id, job.id, channel, ts)
            posted.add(channel)
        return len(posted)

    async def show_decision(self, job: Job) -> None:
        """Edit every copy of the request to show who decided, then forget the copies."""
        settings = await self._settings_of(job)
        with messages.speaking(messages.workspace_language()):
            decided = messages.approval_decided(job, limit_micros=settings.approval_over_micros)
        for channel, ts in await self._store.approval_copies(job.team_id, job.id):
            try:
                await self._slack.update_message(channel, ts, decided, label=f"job={job.id} message=approval_request")
            except SlackCallError as exc:
                # A copy deleted by hand, a channel archived since: the others are still edited.
                log.warning("job=%s event=approval_copy_not_edited channel=%s error=%s", job.id, channel, exc.error)
        await self._store.forget_approval_copies(job.team_id, job.id)
        await self._writer.set(job, event="approval_copies_edited", approval_edits_due=False)
        # The decision changed the job's state outside the writer (a click, or the expiry): the requester's
        # App Home shows it now.
        self._writer.on_state_change(job)
