"""A job's progress message is posted beside the job's steps, never in their way.

Slack lets about one message a second into a channel. Thirty jobs started at once in one channel need
thirty roots and thirty progress messages: if each job's steps waited for its progress message, the last
job's video would wait a minute behind posts nobody is reading yet. So a step only asks for the message;
it is posted here when the channel has room, after every root waiting there, and the job's steps go on.

Only one progress message a job, across replicas and restarts: on PostgreSQL whoever posts it first
claims it in the jobs table (`progress_post_claimed_until`; SQLite's one process needs only `_posting`,
and a look at the recorded `ts` for a step holding the job from before it), and the `ts` it got is
recorded the moment Slack answers. A replica that dies holding a claim leaves it
to lapse, and the next step that wants the message claims it anew. A crash between Slack's answer and
the write can leave one extra message, as for any post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.clients.pacing import Priority, stepping_aside
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.job import Job
from storage.db import Store

log = logging.getLogger("videobot.progress_posts")

# A claim lasts this many leases (VIDEOBOT_LEASE_SECONDS; 180 s by default): long enough for a post that
# waits behind a busy channel's line, short enough that a dead replica's claim holds up its jobs' final
# edits about as long as its leases hold up their steps.
CLAIM_LEASES = 6


class _Clock(Protocol):
    def now(self) -> float: ...


class ProgressPosts:
    def __init__(
        self,
        store: Store,
        slack: SlackGateway,
        clock: _Clock,
        render: Callable[[Job], dict[str, Any]],
        lease_seconds: float = 30.0,
    ) -> None:
        self._claim_seconds = CLAIM_LEASES * lease_seconds
        self._store = store
        self._slack = slack
        self._clock = clock
        self._render = render
        self._posting: dict[str, asyncio.Task[str | None]] = {}
        # The job as its steps last saw it (steps update it in place): what the post shows when it goes.
        self._latest: dict[str, Job] = {}

    def want(self, job: Job) -> None:
        """Post the job's progress message soon, if it has none and nobody is posting it yet."""
        if job.progress_ts is not None or job.root_ts is None:
            return
        self._latest[job.id] = job
        if job.id in self._posting:
            return
        task = asyncio.get_running_loop().create_task(self._post(job, Priority.BACKGROUND), name=f"progress-{job.id}")
        self._posting[job.id] = task

        def done(_: object) -> None:
            self._posting.pop(job.id, None)
            self._latest.pop(job.id, None)

        task.add_done_callback(done)

    async def now(self, job: Job, priority: Priority = Priority.URGENT) -> tuple[str | None, bool]:
        """For the final edits: the job's progress message, and whether it was posted just now as the job
        stands (no edit needed). (None, False) while another replica holds the claim to post it."""
        if job.progress_ts is None:
            posting = self._posting.get(job.id)
            if posting is not None:
                async with stepping_aside():
                    await asyncio.gather(posting, return_exceptions=True)
            stored = await self._store.get_job(job.id, team_id=job.team_id)
            job.progress_ts = stored.progress_ts if stored is not None else None
        if job.progress_ts is not None:
            return job.progress_ts, False
        job.progress_ts = await self._post(job, priority, raise_errors=True)
        return job.progress_ts, job.progress_ts is not None

    async def _post(self, asked_by: Job, priority: Priority, *, raise_errors: bool = False) -> str | None:
        job_id = asked_by.id
        now = self._clock.now()
        # SQLite serves one process, where `_posting` already keeps to one post a job: no claim to write.
        if self._store.engine != "sqlite":
            if not await self._store.claim_progress_post(job_id, now, now + self._claim_seconds):
                return None
        elif (
            stored := await self._store.get_job(job_id, team_id=asked_by.team_id)
        ) is not None and stored.progress_ts is not None:
            # Asked for by a step holding the job as it was before its message was posted and recorded.
            return stored.progress_ts
        job = self._latest.get(job_id, asked_by)
        assert job.root_ts is not None
        label = f"job={job_id} message=progress"
        posted = self._render(job)
        try:
            ts = await self._slack.post_message(job.where, posted, job.replies_under, priority=priority, label=label)
        except SlackCallError as exc:
            await self._store.record_progress_post(job_id, None)
            if raise_errors:
                raise
            # The job's next refresh asks again; a channel that is gone is the steps' to handle.
            log.warning("job=%s event=progress_post_failed error=%s", job_id, exc.error)
            return None
        await self._store.record_progress_post(job_id, ts)
        log.info("job=%s event=progress_posted", job_id)
        # The post may have waited a while behind the channel's line: show what the job is doing now.
        latest = self._latest.get(job_id, job)
        latest.progress_ts = latest.progress_ts or ts
        if (current := self._render(latest)) != posted:
            self._slack.edit_soon(job.where, ts, current, priority=Priority.BACKGROUND, label=label)
        return ts

    async def close(self, grace_seconds: float) -> None:
        """Give the posts on their way `grace_seconds` to be answered and recorded, then cancel the rest
        (their claims lapse, or are released at start on SQLite)."""
        tasks = list(self._posting.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        while self._posting:
            await asyncio.gather(*list(self._posting.values()), return_exceptions=True)
