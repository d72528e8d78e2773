"""The Workflow Builder step that started a job is ended when the job ends: once, across restarts.

Written after Slack's answer, so a crash in between ends the step again on restart; Slack then answers
`execution_not_in_running_state`, which means it was ended already. The step's token is dropped once
it is ended: it is a secret, and useless afterwards.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain import catalogue
from bot.domain.job import Job, JobState
from bot.jobs.thread import JobThread
from bot.jobs.writer import JobWriter

log = logging.getLogger("videobot.jobs")

# Answers after which the step cannot be ended by anyone: already ended, timed out at Slack, or gone.
STEP_OVER_ERRORS = frozenset(
    {"execution_not_in_running_state", "function_execution_not_found", "invalid_auth", "token_expired"}
)


class StepEnding:
    def __init__(self, slack: SlackGateway, thread: JobThread, writer: JobWriter) -> None:
        self._slack = slack
        self._thread = thread
        self._writer = writer

    async def end(self, job: Job) -> None:
        """Tell the step how the job ended; raises SlackCallError when worth trying again."""
        if job.step_execution_id is None or job.step_done:
            return
        outputs = await self._outputs(job) if job.state == JobState.DELIVERED else None
        with messages.speaking(job.person_language):  # said to whoever ran the workflow
            error = "" if outputs is not None else messages.step_failed(job)
        try:
            await self._slack.complete_step(job.step_token or "", job.step_execution_id, outputs, error)
        except SlackCallError as exc:
            if exc.error not in STEP_OVER_ERRORS:
                raise
            log.warning("job=%s event=step_already_over error=%s", job.id, exc.error)
        await self._writer.set(job, event="step_ended", step_done=True, step_token=None)

    async def _outputs(self, job: Job) -> dict[str, Any]:
        link = job.video_url if job.delivered_as_link else await self._thread.link(job)
        return {
            "job_id": job.id,
            "video_link": link or "",
            "cost_usd": float(catalogue.micros_to_cents(job.cost_micros)),
        }
