"""A job's thread in Slack: its root message, its progress message, and the edits that keep them true.

Edits of a running job go out at Slack's pace without holding the job up (only the newest content of
each message is sent); a job's final edits are waited for, so the job retries them when Slack fails.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.clients.pacing import Priority
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import TERMINAL_STATES, Job
from bot.domain.settings import Settings
from bot.jobs.policy import PROGRESS_EDIT_MIN_GAP_SECONDS
from bot.jobs.progress_posts import ProgressPosts
from bot.jobs.writer import JobWriter
from storage.db import Store

log = logging.getLogger("videobot.jobs")


class JobThread:
    def __init__(self, store: Store, slack: SlackGateway, clock: Clock, settings: Settings, writer: JobWriter) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock
        self._settings = settings
        self._writer = writer
        self._progress_edited: dict[str, float] = {}  # job id → last progress edit (this process only)
        self._progress_posts = ProgressPosts(store, slack, clock, self.progress_message, settings.lease_seconds)

    async def close(self, grace_seconds: float) -> None:
        await self._progress_posts.close(grace_seconds)

    async def wait_idle(self) -> None:
        """Until the progress messages asked for are posted and every edit is sent (tests, shutdown)."""
        await self._progress_posts.wait_idle()
        await self._slack.wait_idle()

    async def post_root(self, job: Job, *, progress_too: bool = False) -> None:
        ts = await self._slack.post_message(
            job.where, self.root_message(job), job.thread_ts, priority=Priority.ROOT, label=f"job={job.id} message=root"
        )
        await self._writer.set(job, event="root_posted", root_ts=ts)
        if progress_too:
            await self._progress_posts.now(job, Priority.ROOT)
        else:
            self._progress_posts.want(job)

    def show_progress(self, job: Job, *, throttled: bool = False) -> None:
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
        self._edit(job, job.progress_ts, self.progress_message(job), "progress", Priority.BACKGROUND)

    def show_root(self, job: Job) -> None:
        self._edit(job, job.root_ts, self.root_message(job), "root", Priority.ROOT)

    def progress_message(self, job: Job) -> messages.Message:
        # In the language the job started with, whoever's action (or no one's: the poller) edits it now.
        with messages.speaking(job.language):
            return messages.progress_message(
                job,
                approval_limit_micros=self._settings.approval_over_micros,
                running_cap=self._settings.max_running_per_person,
            )

    def root_message(self, job: Job) -> messages.Message:
        with messages.speaking(job.language):
            return messages.root_message(
                job, rerun_emoji=self._settings.rerun_emoji[0], showcase=bool(self._settings.showcase_channel)
            )

    async def final_edits(self, job: Job) -> bool:
        """Show the job's end in its root and progress messages; False while another replica holds the
        claim to post the progress message (not a failure: the job looks again shortly)."""
        assert job.root_ts is not None
        label = f"job={job.id} message="
        progress_ts, posted_as_it_is = await self._progress_posts.now(job)
        if progress_ts is None:
            return False
        if not posted_as_it_is:
            await self._slack.update_message(
                job.where, progress_ts, self.progress_message(job), label=label + "progress"
            )
        await self._slack.update_message(job.where, job.root_ts, self.root_message(job), label=label + "root")
        return True

    def forget(self, job_id: str) -> None:
        """The job is finalized: nothing more is shown in its thread."""
        self._progress_edited.pop(job_id, None)

    async def link_to(self, job_id: str, team_id: str) -> str:
        """A permalink to the workspace's job's root message, or "" (the message then names the job instead)."""
        source = await self._store.get_job(job_id, team_id=team_id)
        return "" if source is None else await self.link(source)

    async def link(self, job: Job) -> str:
        """A permalink to this job's root message, or ""."""
        if job.root_ts is None:
            return ""
        try:
            return await self._slack.permalink(job.where, job.root_ts)
        except SlackCallError as exc:
            log.warning("job=%s event=permalink_failed error=%s", job.id, exc.error)
            return ""

    async def tell_requester(self, job: Job, message: messages.Message) -> None:
        """Privately, through the command's response_url, else as an ephemeral; never raises."""
        if not await self._slack.tell_privately(job.where, job.user_id, message, job.response_url):
            log.warning("job=%s event=requester_not_told", job.id)

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
        stored = await self._store.get_job(job_id, team_id=None)  # the bot's own job, by its own id
        return stored is not None and stored.state not in TERMINAL_STATES
