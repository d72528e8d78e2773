"""The Perf video API client: the only code that speaks HTTP to Perf.

Every answer is checked, and every way a call can go wrong becomes one of a few exceptions that say
what the caller may do next: above all, whether a create might have reached Perf (then it must never
be repeated, since each job is paid for).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from bot.clients.acks_first import acks_first
from bot.domain.catalogue import dollars_to_micros
from bot.domain.request import VideoRequest

GENERATIONS_PATH = "/v1/video/generations"
_KNOWN_STATUSES = ("pending", "processing", "complete", "failed")


class PerfError(Exception):
    """Base class; `str()` is a sentence fit to show a person (never contains the API key)."""


class PerfRejected(PerfError):
    """Perf certainly did not create or does not have the job (4xx, or the connection never opened)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PerfNotFound(PerfRejected):
    """Perf says it does not know the job."""


class PerfRetryLater(PerfError):
    """Nothing happened at Perf and asking again later may work: 429, or a poll that failed in transit."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PerfOutcomeUnknown(PerfError):
    """A create whose request may have reached Perf but whose answer we did not get or understand."""


@dataclass(frozen=True)
class CreatedJob:
    perf_job_id: str
    status: str


@dataclass(frozen=True)
class JobStatus:
    status: str
    progress_percent: int | None = None
    eta_seconds: int | None = None
    video_url: str | None = None
    error_message: str | None = None
    cost_micros: int | None = None
    generation_ms: int | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str) and message:
            return message[:500]
    except (ValueError, KeyError, TypeError):
        pass
    return f"HTTP {response.status_code}"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value)


def _cost_micros(value: Any) -> int | None:
    # _optional_int rejects booleans, NaN and infinities; the range rejects nonsense amounts.
    if not isinstance(value, int | float) or _optional_int(value) is None or not 0 <= value < 100_000:
        return None
    return dollars_to_micros(value)


class KeyCheck(StrEnum):
    """What Perf said of a key it was shown (`PerfClient.check_key`)."""

    ACCEPTED = "accepted"
    REFUSED = "refused"  # 401 or 403: Perf does not know the key, or it is revoked


# A job id no Perf account can have: a key is checked by asking for it (404: the key is good).
PROBE_JOB_ID = "job_vid_videobot_key_check"


class PerfClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        """`http` carries the base URL and, when it has one, the default key's Authorization header; see
        `make_http_client`. Each call may name its own key instead (`api_key=`): Perf's limits and bills are
        per key, and with many workspaces each pays with its own over the one connection pool."""
        self._http = http

    @staticmethod
    def make_http_client(
        base_url: str,
        api_key: str = "",
        timeout: float = 30.0,
        event_hooks: dict[str, list[Callable[..., Awaitable[None]]]] | None = None,
    ) -> httpx.AsyncClient:
        headers = {"User-Agent": "videobot/0.1"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return httpx.AsyncClient(
            base_url=base_url,
            event_hooks=event_hooks or {},
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
        )

    @staticmethod
    def _auth(api_key: str | None) -> dict[str, str] | None:
        return {"Authorization": f"Bearer {api_key}"} if api_key else None

    async def check_key(self, api_key: str) -> KeyCheck:
        """Whether Perf accepts `api_key`: a poll of a job that cannot exist (nothing is created or paid).
        Raises PerfError when Perf's answer says neither (unreachable, busy, or not Perf's API)."""
        try:
            await self.status(PROBE_JOB_ID, api_key=api_key)
        except PerfNotFound:
            return KeyCheck.ACCEPTED
        except PerfRejected as exc:
            if exc.status in (401, 403):
                return KeyCheck.REFUSED
            raise
        raise PerfRetryLater("Perf answered a job id that cannot exist: is PERF_API_URL the real API?")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create(self, request: VideoRequest, *, api_key: str | None = None) -> CreatedJob:
        """Create the job, paid by `api_key` (None: the client's default key)."""
        body = {
            "prompt": request.prompt_sent,
            "model": request.model,
            "duration_seconds": float(request.duration_seconds)
            if request.duration_seconds != int(request.duration_seconds)
            else int(request.duration_seconds),
            "resolution": request.resolution,
            "aspect_ratio": request.aspect_ratio,
        }
        await acks_first()
        try:
            response = await self._http.post(GENERATIONS_PATH, json=body, headers=self._auth(api_key))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PerfRejected(f"could not connect to Perf ({type(exc).__name__}); nothing was created") from None
        except httpx.TransportError as exc:
            raise PerfOutcomeUnknown(f"the connection to Perf failed mid-request ({type(exc).__name__})") from None

        if response.status_code == 429:
            raise PerfRetryLater("Perf is busy (429)", _retry_after(response))
        if 400 <= response.status_code < 500:
            raise PerfRejected(_error_message(response), response.status_code)
        if response.status_code >= 500:
            # A 5xx may come after the job was created: treating it as "not created" could pay twice.
            raise PerfOutcomeUnknown(f"Perf answered HTTP {response.status_code} while creating the job")
        body_in = _json_object(response)
        job_id = body_in.get("id") if body_in else None
        if response.status_code not in (200, 201, 202) or not isinstance(job_id, str) or not job_id:
            raise PerfOutcomeUnknown(f"Perf's answer to the create (HTTP {response.status_code}) had no job id")
        status = body_in.get("status") if body_in else None
        return CreatedJob(perf_job_id=job_id, status=status if status in _KNOWN_STATUSES else "pending")

    async def status(self, perf_job_id: str, *, api_key: str | None = None) -> JobStatus:
        """The job's status, asked with `api_key` (None: the client's default): the key that created it."""
        await acks_first()
        try:
            response = await self._http.get(f"{GENERATIONS_PATH}/{perf_job_id}", headers=self._auth(api_key))
        except httpx.TransportError as exc:
            raise PerfRetryLater(f"could not reach Perf ({type(exc).__name__})") from None
        if response.status_code == 404:
            raise PerfNotFound("Perf no longer knows this job", 404)
        if response.status_code == 429 or response.status_code >= 500:
            raise PerfRetryLater(f"Perf answered HTTP {response.status_code}", _retry_after(response))
        if response.status_code in (401, 403):
            raise PerfRejected(f"Perf refused the API key (HTTP {response.status_code})", response.status_code)
        if response.status_code != 200:
            raise PerfRetryLater(f"Perf answered HTTP {response.status_code}")
        body = _json_object(response)
        if body is None:
            raise PerfRetryLater("Perf's answer was not JSON")
        status = body.get("status")
        if status not in _KNOWN_STATUSES:
            raise PerfRetryLater(f"Perf answered an unknown status {str(status)[:40]!r}")
        perf_field = body.get("perf")
        perf: dict[str, Any] = perf_field if isinstance(perf_field, dict) else {}
        video_url = body.get("video_url")
        if status == "complete" and (not isinstance(video_url, str) or not video_url):
            raise PerfRetryLater("Perf said the video is complete but gave no video_url")
        error_message = body.get("error_message")
        progress = _optional_int(body.get("progress_percent"))
        return JobStatus(
            status=status,
            progress_percent=None if progress is None else max(0, min(100, progress)),
            eta_seconds=_optional_int(body.get("estimated_remaining_seconds")),
            video_url=video_url if isinstance(video_url, str) else None,
            error_message=error_message[:1000] if isinstance(error_message, str) and error_message else None,
            cost_micros=_cost_micros(perf.get("cost_usd")),
            generation_ms=_optional_int(perf.get("generation_time_ms")),
        )
