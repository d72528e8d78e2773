"""The job machine as its callers see it: admission (`start`, `start_rerun`), `advance` for the
poller, and the line's `wake_queue`. The pieces behind it, each one idea:

    admission   stores a new job within the quotas, before the command is acknowledged
    machine     the state machine: which step a stored job takes next, and what a failure means
    line        the account's line: a slot at Perf, then exactly one create
    polling     a job at Perf: polled at its estimate, its progress moved along in between
    delivery    the video into the thread, or its link
    thread      the job's Slack thread: root and progress messages and their edits
    writer      the one way a step writes a job (fenced by state and lease)
    policy      the numbers: poll delays, backoff, attempts
"""

from __future__ import annotations

from collections.abc import Callable

from bot.clients.media import MediaFetcher
from bot.clients.perf import PerfClient
from bot.clients.slack import SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.domain.request import VideoRequest
from bot.domain.settings import Settings
from bot.jobs.admission import Admission
from bot.jobs.approvals import ApprovalGate
from bot.jobs.delivery import Delivery
from bot.jobs.line import AccountLine
from bot.jobs.machine import JobMachine
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.polling import Polling
from bot.jobs.quotas import Quotas
from bot.jobs.thread import JobThread
from bot.jobs.workflow_step import StepEnding
from bot.jobs.workspace_settings import WorkspaceSettings
from bot.jobs.writer import JobWriter
from storage.db import Store


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
        keys: PerfKeys | None = None,
        settings_for: WorkspaceSettings | None = None,
    ) -> None:
        """`keys`: which Perf key pays for each workspace's jobs (default: the operator's PERF_API_KEY alone);
        `settings_for`: each workspace's own settings over the operator's (default: the operator's alone)."""
        self._perf = perf
        self.keys = keys or PerfKeys(settings.perf_api_key, None, clock)
        self.settings_for = settings_for or WorkspaceSettings(settings, None, clock)
        self._admission = Admission(
            store,
            clock,
            quotas,
            approval_over_micros=settings.approval_over_micros,
            keys=self.keys,
            settings_for=self.settings_for,
        )
        self._writer = JobWriter(store, clock, settings)
        self._thread = JobThread(store, slack, clock, settings, self._writer)
        self._line = AccountLine(store, perf, clock, settings, self._writer, self._thread, self.keys)
        self._delivery = Delivery(slack, media, clock, self._writer, settings.delivery_timeout_seconds)
        self._machine = JobMachine(
            slack,
            clock,
            settings,
            writer=self._writer,
            thread=self._thread,
            line=self._line,
            polling=Polling(perf, clock, settings, self._writer, self._thread, self.keys),
            delivery=self._delivery,
            step_ending=StepEnding(slack, self._thread, self._writer),
            approvals=ApprovalGate(store, slack, clock, settings, self._writer, self._thread, self.settings_for),
        )

    async def start(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        response_url: str,
        thread_ts: str | None = None,
    ) -> Job:
        """Store a new job, due at once. Raises ChannelNotAllowed or QuotaExceeded, having stored nothing."""
        return await self._admission.start(
            request,
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            response_url=response_url,
            thread_ts=thread_ts,
        )

    async def start_comparison(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        response_url: str,
        thread_ts: str | None = None,
    ) -> list[Job]:
        """Store one job per model of `request.models`, all or none, due at once (Admission.start_comparison)."""
        return await self._admission.start_comparison(
            request,
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            response_url=response_url,
            thread_ts=thread_ts,
        )

    async def start_from_form(
        self, request: VideoRequest, *, view_id: str, team_id: str, channel_id: str, user_id: str, thread_ts: str | None
    ) -> Job | None:
        """Store the job of a form's submission, keyed `form:<view id>`; None if that view already started one."""
        return await self._admission.start_once(
            request,
            trigger=f"form:{view_id}" if view_id else None,  # Slack's submissions always carry their view
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            thread_ts=thread_ts,
        )

    async def start_for_step(
        self,
        request: VideoRequest,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        execution_id: str,
        token: str,
    ) -> Job | None:
        """Store the job a workflow step asked for; None if that execution already started one."""
        return await self._admission.start_for_step(
            request, team_id=team_id, channel_id=channel_id, user_id=user_id, execution_id=execution_id, token=token
        )

    async def start_rerun(
        self,
        source: Job,
        request: VideoRequest,
        *,
        user_id: str,
        trigger: str,
        response_url: str = "",
        full_version: bool = False,
        remix: bool = False,
    ) -> Job | None:
        """Store a rerun of `source` for `user_id` (`full_version`: the full version of a draft; `remix`: with
        its settings changed in the Remix form); None if `trigger` already started one."""
        return await self._admission.start_rerun(
            source,
            request,
            user_id=user_id,
            trigger=trigger,
            response_url=response_url,
            full_version=full_version,
            remix=remix,
        )

    async def advance(self, job: Job) -> None:
        """Run the job's due steps; never raises, so one bad job cannot stop the poller."""
        await self._machine.advance(job)

    async def wake_queue(self) -> None:
        """Make due the jobs in line that may now get a slot or have moved up (called every tick)."""
        await self._line.wake()

    @property
    def on_delivered(self) -> Callable[[float], None]:
        """Told the lag from "complete at Perf" to "in the thread" of each delivered video (metrics)."""
        return self._delivery.on_delivered

    @on_delivered.setter
    def on_delivered(self, listener: Callable[[float], None]) -> None:
        self._delivery.on_delivered = listener

    @property
    def on_state_change(self) -> Callable[[Job], None]:
        """Told of every state change (the requester's App Home is republished); must not block or raise."""
        return self._writer.on_state_change

    @on_state_change.setter
    def on_state_change(self, listener: Callable[[Job], None]) -> None:
        self._writer.on_state_change = listener

    async def close(self, grace_seconds: float) -> None:
        await self._thread.close(grace_seconds)

    async def wait_idle(self) -> None:
        """Until the progress messages asked for are posted and every edit is sent (tests, shutdown)."""
        await self._thread.wait_idle()
