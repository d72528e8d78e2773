"""The Perf client sorts every answer into what the caller may do next, using httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from bot.clients.perf import (
    CreatedJob,
    PerfClient,
    PerfNotFound,
    PerfOutcomeUnknown,
    PerfRejected,
    PerfRetryLater,
)
from bot.domain.request import VideoRequest

KEY = "pk_test_unit_key_0001"


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> PerfClient:
    http = PerfClient.make_http_client("https://api.test", KEY)
    http._transport = httpx.MockTransport(handler)
    return PerfClient(http)


def answering(
    status: int, body: object = None, headers: dict[str, str] | None = None, text: str | None = None
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def test_create_sends_the_documented_body_with_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "job_vid_1", "status": "pending"})

    created = await client(handler).create(VideoRequest("A cat", "pika", duration_seconds=Decimal("2.5")))
    assert created == CreatedJob("job_vid_1", "pending")
    [request] = seen
    assert request.url == "https://api.test/v1/video/generations"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.read() == (
        b'{"prompt":"A cat","model":"pika","duration_seconds":2.5,"resolution":"1080p","aspect_ratio":"16:9"}'
    )


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (answering(400, {"error": {"type": "invalid_request", "message": "prompt is required"}}), PerfRejected),
        (answering(401, {"error": {"message": "bad key"}}), PerfRejected),
        (raising(httpx.ConnectError("refused")), PerfRejected),
        (answering(429, {}, {"Retry-After": "7"}), PerfRetryLater),
        (answering(500, {}), PerfOutcomeUnknown),
        (answering(503, {}), PerfOutcomeUnknown),
        (answering(202, text="{nonsense"), PerfOutcomeUnknown),
        (answering(202, {"status": "pending"}), PerfOutcomeUnknown),
        (answering(202, ["job_vid_1"]), PerfOutcomeUnknown),
        (raising(httpx.ReadTimeout("slow")), PerfOutcomeUnknown),
        (raising(httpx.RemoteProtocolError("dropped")), PerfOutcomeUnknown),
    ],
)
async def test_create_failures_say_whether_perf_may_have_the_job(handler: Handler, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        await client(handler).create(VideoRequest("A cat"))
    assert KEY not in str(caught.value)
    if error is PerfRetryLater:
        retry_later = caught.value
        assert isinstance(retry_later, PerfRetryLater)  # what pytest.raises(PerfRetryLater) already checked
        assert retry_later.retry_after == 7


async def test_a_rejection_carries_perfs_own_message() -> None:
    handler = answering(400, {"error": {"type": "invalid_request", "message": "duration_seconds exceeds maximum"}})
    with pytest.raises(PerfRejected, match="duration_seconds exceeds maximum"):
        await client(handler).create(VideoRequest("A cat"))


async def test_status_of_a_processing_and_a_complete_job() -> None:
    processing = await client(
        answering(200, {"id": "j", "status": "processing", "progress_percent": 45, "estimated_remaining_seconds": 30})
    ).status("j")
    assert (processing.status, processing.progress_percent, processing.eta_seconds) == ("processing", 45, 30)

    complete = await client(
        answering(
            200,
            {
                "id": "j",
                "status": "complete",
                "video_url": "https://storage.withperf.pro/videos/j.mp4",
                "perf": {"generation_time_ms": 45234, "cost_usd": 0.8},
            },
        )
    ).status("j")
    assert complete.video_url == "https://storage.withperf.pro/videos/j.mp4"
    assert (complete.cost_micros, complete.generation_ms) == (800_000, 45234)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (answering(404, {"error": {"type": "not_found"}}), PerfNotFound),
        (answering(429, {}), PerfRetryLater),
        (answering(502, {}), PerfRetryLater),
        (answering(200, text="<html>"), PerfRetryLater),
        (answering(200, {"status": "exploding"}), PerfRetryLater),
        (answering(200, {"status": "complete"}), PerfRetryLater),
        (answering(200, {"status": "complete", "video_url": 7}), PerfRetryLater),
        (raising(httpx.ReadTimeout("slow")), PerfRetryLater),
        (raising(httpx.ConnectError("refused")), PerfRetryLater),
    ],
)
async def test_status_faults_are_sorted(handler: Handler, error: type[Exception]) -> None:
    with pytest.raises(error):
        await client(handler).status("j")


async def test_nonsense_numbers_in_a_status_are_ignored_not_trusted() -> None:
    status = await client(
        answering(200, {"status": "processing", "progress_percent": 250, "estimated_remaining_seconds": "soon"})
    ).status("j")
    assert status.progress_percent == 100 and status.eta_seconds is None
