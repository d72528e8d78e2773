"""A fake of the Perf video API, and of its media host, on 127.0.0.1.

Jobs move on per poll, not per second, so tests never wait on wall-clock time: each job answers
`pending` once, then `processing` for `processing_polls` polls, then `complete` (or `failed`).
`hold()` keeps jobs in `processing` until `release()`, for tests that act mid-job.

Like Perf, it knows several API keys (`add_key`), each an account of its own: a request with a key it does
not know is refused (401), and a job is found only with the key that created it (404 with another).
`creates_by_key` and `most_running_by_key` say which key paid and each key's own concurrency.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "pk_test_fake_perf_key_123456"


def video_bytes(job_id: str, size: int) -> bytes:
    seed = hashlib.sha256(job_id.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class FakePerfJob:
    id: str
    body: dict[str, Any]
    polls: int = 0
    outcome: str = "complete"
    key: str = API_KEY
    error_message: str = "Content policy violation: the prompt was refused"
    created_at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    drop: bool = False


_CHAOS = {
    "busy": Scripted(429, {"error": {"type": "rate_limited", "message": "busy"}}, {"Retry-After": "1"}),
    "server_error": Scripted(500, {"error": {"type": "internal", "message": "oops"}}),
    "dropped": Scripted(500, drop=True),
    "garbage": Scripted(200, raw="{not json"),
}


class FakePerf:
    def __init__(self) -> None:
        self.jobs: dict[str, FakePerfJob] = {}
        self.creates: list[dict[str, Any]] = []
        self.create_requests = 0  # every create that arrived, whatever it was answered
        self.polls: list[str] = []
        # Jobs created and not yet reported finished: what the account's concurrency limit counts.
        self.running: set[str] = set()
        self.most_running = 0
        self.media_requests: list[dict[str, str]] = []
        self.unauthorized = 0
        # The keys Perf knows, each an account: API_KEY unless a test adds or removes some.
        self.keys: set[str] = {API_KEY}
        self.creates_by_key: collections.Counter[str] = collections.Counter()
        self.most_running_by_key: collections.Counter[str] = collections.Counter()
        self.processing_polls = 2
        self.eta_seconds = 1
        self.video_size = 300_000
        self.outcome = "complete"
        self.media_content_length = True
        self.media_content_type = "video/mp4"  # what the media host calls the video it serves
        self.create_script: list[Scripted] = []
        self.poll_script: list[Scripted] = []
        self.video_url_override: str | None = None
        self.create_gate: asyncio.Event | None = None
        # Hold points for kill tests: the job is created but its id not yet answered; the video half sent.
        self.answer_gate: asyncio.Event | None = None
        self.media_gate: asyncio.Event | None = None
        self.held: dict[str, int] = {"answer": 0, "media": 0}
        # The soak's chaos: this share of creates and polls fails, in one of the ways Perf can fail.
        self.chaos = 0.0
        # (queued seconds, processing seconds): jobs follow the wall clock instead of counting polls.
        self.timeline: tuple[float, float] | None = None
        self.rng = random.Random(0)
        self.chaos_faults: collections.Counter[str] = collections.Counter()
        self._held = asyncio.Event()
        self._held.set()
        self._ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self.api_url = ""
        self.media_host = ""

    def hold(self) -> None:
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    def video_for(self, perf_job_id: str) -> bytes:
        return video_bytes(perf_job_id, self.video_size)

    async def start(self) -> str:
        api = web.Application()
        api.router.add_post("/v1/video/generations", self._create)
        api.router.add_get("/v1/video/generations/{id}", self._status)
        media = web.Application()
        media.router.add_get("/videos/{name}", self._video)
        ports = []
        for app in (api, media):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._runners.append(runner)
            ports.append(runner.addresses[0][1])
        self.api_url = f"http://127.0.0.1:{ports[0]}"
        self.media_host = f"127.0.0.1:{ports[1]}"
        return self.api_url

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def add_key(self, key: str) -> None:
        """Perf now knows `key`: an account of its own."""
        self.keys.add(key)

    def running_with(self, key: str) -> int:
        """How many jobs created with `key` are running: what that account's concurrency counts."""
        return sum(1 for job_id in self.running if self.jobs[job_id].key == key)

    def _key_of(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if key in self.keys:
            return key
        self.unauthorized += 1
        return None

    @staticmethod
    def _scripted(item: Scripted, request: web.Request) -> web.StreamResponse:
        if item.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if item.raw is not None:
            return web.Response(
                status=item.status, text=item.raw, headers=item.headers, content_type="application/json"
            )
        return web.json_response(item.body or {}, status=item.status, headers=item.headers)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        key = self._key_of(request)
        if key is None:
            return web.json_response({"error": {"type": "unauthorized", "message": "bad key"}}, status=401)
        body = await request.json()
        self.create_requests += 1
        if self.create_gate is not None:
            await self.create_gate.wait()
        if self.chaos and self.rng.random() < self.chaos:
            fault = self.rng.choice(["busy", "server_error", "dropped"])
            self.chaos_faults[f"create_{fault}"] += 1
            return self._scripted(_CHAOS[fault], request)
        if self.create_script:
            item = self.create_script.pop(0)
            if item.status != 202 or item.drop:
                return self._scripted(item, request)
        if not body.get("prompt"):
            return web.json_response(
                {"error": {"type": "invalid_request", "message": "prompt is required"}}, status=400
            )
        job_id = f"job_vid_{next(self._ids):04d}"
        self.creates.append(body)
        self.jobs[job_id] = FakePerfJob(job_id, body, outcome=self.outcome, key=key)
        self.creates_by_key[key] += 1
        self.running.add(job_id)
        self.most_running = max(self.most_running, len(self.running))
        self.most_running_by_key[key] = max(self.most_running_by_key[key], self.running_with(key))
        if self.answer_gate is not None:
            self.held["answer"] += 1
            await self.answer_gate.wait()
        return web.json_response(
            {
                "id": job_id,
                "status": "pending",
                "model": body.get("model", "runway-gen3"),
                "prompt": body["prompt"],
                "estimated_cost_usd": 0.4,
                "perf": {"request_id": "req_1", "model_used": body.get("model"), "latency_ms": 12},
            },
            status=202,
        )

    async def _status(self, request: web.Request) -> web.StreamResponse:
        key = self._key_of(request)
        if key is None:
            return web.json_response({"error": {"type": "unauthorized", "message": "bad key"}}, status=401)
        job_id = request.match_info["id"]
        self.polls.append(job_id)
        if self.chaos and self.rng.random() < self.chaos:
            fault = self.rng.choice(["busy", "server_error", "dropped", "garbage"])
            self.chaos_faults[f"poll_{fault}"] += 1
            return self._scripted(_CHAOS[fault], request)
        if self.poll_script:
            return self._scripted(self.poll_script.pop(0), request)
        job = self.jobs.get(job_id)
        if job is None or job.key != key:  # another account's job is not found, as at Perf
            return web.json_response(
                {"error": {"type": "not_found", "message": "Video generation job not found"}}, status=404
            )
        job.polls += 1
        base = {"id": job.id, "model": job.body.get("model"), "prompt": job.body.get("prompt")}
        if self.timeline is not None:
            return self._status_by_the_clock(job, base)
        if job.polls == 1:
            return web.json_response({**base, "status": "pending"})
        if job.polls <= 1 + self.processing_polls or not self._held.is_set():
            percent = min(95, 100 * (job.polls - 1) // (self.processing_polls + 1))
            return web.json_response(
                {
                    **base,
                    "status": "processing",
                    "progress_percent": percent,
                    "estimated_remaining_seconds": self.eta_seconds,
                }
            )
        self.running.discard(job.id)
        if job.outcome == "failed":
            return web.json_response(
                {**base, "status": "failed", "error_message": job.error_message, "perf": {"request_id": "r"}}
            )
        duration = job.body.get("duration_seconds", 4)
        return web.json_response(
            {
                **base,
                "status": "complete",
                "video_url": self.video_url_override or f"http://{self.media_host}/videos/{job.id}.mp4",
                "duration_seconds": duration,
                "resolution": job.body.get("resolution"),
                "aspect_ratio": job.body.get("aspect_ratio"),
                "perf": {
                    "request_id": "r",
                    "model_used": job.body.get("model"),
                    "generation_time_ms": 45234,
                    "cost_usd": 0.4,
                },
            }
        )

    def _status_by_the_clock(self, job: FakePerfJob, base: dict[str, Any]) -> web.Response:
        """Like the real service: queued, then processing with an honest estimate, then complete."""
        assert self.timeline is not None
        queued, processing = self.timeline
        age = time.monotonic() - job.created_at
        if age < queued:
            return web.json_response({**base, "status": "pending"})
        if age < queued + processing:
            left = queued + processing - age
            percent = int(100 * (age - queued) / processing)
            return web.json_response(
                {
                    **base,
                    "status": "processing",
                    "progress_percent": percent,
                    "estimated_remaining_seconds": round(left),
                }
            )
        self.running.discard(job.id)
        return web.json_response(
            {
                **base,
                "status": "complete",
                "video_url": f"http://{self.media_host}/videos/{job.id}.mp4",
                "perf": {"request_id": "r", "generation_time_ms": int(processing * 1000), "cost_usd": 0.4},
            }
        )

    def completed_at(self, perf_job_id: str) -> float:
        """When a job on the clock became complete (time.monotonic)."""
        assert self.timeline is not None
        return self.jobs[perf_job_id].created_at + sum(self.timeline)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        self.media_requests.append(dict(request.headers))
        job_id = request.match_info["name"].removesuffix(".mp4")
        if job_id not in self.jobs:
            return web.Response(status=404)
        data = self.video_for(job_id)
        response = web.StreamResponse(headers={"Content-Type": self.media_content_type})
        if self.media_content_length:
            response.content_length = len(data)
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(data), 64 * 1024):
                if self.media_gate is not None and start >= len(data) // 2:
                    self.held["media"] += 1
                    await self.media_gate.wait()
                await response.write(data[start : start + 64 * 1024])
            await response.write_eof()
        except ConnectionError:
            pass  # the downloader went away mid-video (a killed bot)
        return response
