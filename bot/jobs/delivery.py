"""A finished video into its thread: streamed from Perf's storage to Slack, or its link when Slack won't take it.

The upload is two recorded halves (bytes sent, then shared), so a restart between them completes the
upload instead of sending the video again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot import messages
from bot.clients.media import MediaError, MediaFetcher
from bot.clients.slack import CHANNEL_GONE_ERRORS, UPLOAD_REFUSED_ERRORS, SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.jobs.policy import MAX_DELIVERY_ATTEMPTS
from bot.jobs.writer import JobWriter

# How long fetching a video and sending it to Slack may take, all told, unless settings say otherwise.
DEFAULT_DELIVERY_SECONDS = 600.0


class Delivery:
    def __init__(
        self,
        slack: SlackGateway,
        media: MediaFetcher,
        clock: Clock,
        writer: JobWriter,
        deadline_seconds: float = DEFAULT_DELIVERY_SECONDS,
    ) -> None:
        self._slack = slack
        self._media = media
        self._clock = clock
        self._writer = writer
        # A slow or trickling media host would otherwise hold one of the poller's slots as long as it liked.
        self._deadline_seconds = deadline_seconds
        # Told the lag from "complete at Perf" to "in the thread" of each delivered video (metrics).
        self.on_delivered: Callable[[float], None] = lambda lag_seconds: None

    async def deliver(self, job: Job) -> None:
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
        with messages.speaking(job.language):
            title = messages.upload_title(job)
        try:
            await self._slack.complete_upload(job.upload_file_id or "", title, job.where, job.replies_under or "")
        except SlackCallError as exc:
            await self._on_upload_error(job, exc)
            return
        await self._writer.set(
            job, event="delivered", state=JobState.DELIVERED, file_shared=True, delivered_at=self._clock.now()
        )
        if job.completed_at is not None:
            self.on_delivered(self._clock.now() - job.completed_at)

    async def _stream_video(self, job: Job) -> None:
        assert job.video_url is not None
        try:
            async with asyncio.timeout(self._deadline_seconds):
                async with self._media.open(job.video_url) as download:
                    filename = messages.video_filename(job)
                    upload_url, file_id = await self._slack.start_upload(filename, download.size)
                    # Shielded: the deadline never cuts a write to the database in half.
                    await asyncio.shield(
                        self._writer.set(job, event=f"uploading bytes={download.size}", upload_file_id=file_id)
                    )
                    await self._slack.send_upload(upload_url, download.chunks, download.size)
        except TimeoutError:
            # Nothing was shared: the bytes sent so far are an upload never completed, so a retry cannot
            # show the video twice.
            raise MediaError(
                f"fetching and uploading the video took longer than {self._deadline_seconds:g} s "
                "(VIDEOBOT_DELIVERY_TIMEOUT_SECONDS)",
                retryable=True,
            ) from None
        # The bytes are at Slack but not yet shared: from here on, only completing the upload remains.
        await self._writer.set(job, upload_sent=True)

    async def _on_media_error(self, job: Job, exc: MediaError) -> None:
        if exc.retryable and job.poll_failures + 1 < MAX_DELIVERY_ATTEMPTS:
            await self._writer.retry_later(job, str(exc))
        elif exc.retryable or exc.link_allowed:
            await self._deliver_link(job, str(exc))
        else:
            await self._writer.fail(job, f"I did not fetch the video: {exc}", event="video_refused")

    async def _on_upload_error(self, job: Job, exc: SlackCallError) -> None:
        if exc.error in UPLOAD_REFUSED_ERRORS or exc.error.startswith("http_4"):
            await self._deliver_link(job, f"{exc.method}: {exc.error}")
        elif exc.error in CHANNEL_GONE_ERRORS:
            raise exc
        elif job.poll_failures + 1 < MAX_DELIVERY_ATTEMPTS:
            await self._writer.retry_later(job, str(exc))
        else:
            await self._deliver_link(job, f"{exc.method}: {exc.error}")

    async def _deliver_link(self, job: Job, note: str) -> None:
        await self._writer.set(
            job,
            event="delivered_as_link",
            state=JobState.DELIVERED,
            delivered_as_link=True,
            delivery_note=note,
            delivered_at=self._clock.now(),
        )
