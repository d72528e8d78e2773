"""Prometheus metrics: what the bot does, for `GET /metrics` (only with VIDEOBOT_METRICS=1: it shows usage).

Counts that the database already knows (jobs by state, the line, cost today) are read from it at each
scrape, so they survive restarts: from a summary the database keeps as the jobs change and from today's
rows, on a connection of their own (`Store.scrape_counts`), so a scrape costs the same whatever the
history and never holds up an ack. Calls and latencies are counted in this process as they happen.
"""

from __future__ import annotations

import time

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.domain.job import JobState
from storage.db import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Gauge("videobot_jobs", "Jobs by state, all time", ["state"], registry=self.registry)
        self.queue_depth = Gauge(
            "videobot_queue_depth", "Jobs waiting to be submitted to Perf (accepted or queued)", registry=self.registry
        )
        self.submitted = Gauge("videobot_jobs_submitted", "Jobs Perf accepted, all time", registry=self.registry)
        self.delivered = Gauge("videobot_jobs_delivered", "Jobs delivered, all time", registry=self.registry)
        self.failed = Gauge("videobot_jobs_failed", "Jobs failed or unknown, all time", registry=self.registry)
        self.cost_today = Gauge(
            "videobot_cost_today_usd",
            "Cost of today's jobs by channel (charged, else estimated)",
            ["channel"],
            registry=self.registry,
        )
        self.perf_calls = Counter(
            "videobot_perf_calls",
            "Perf API calls by endpoint and outcome",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "videobot_slack_calls",
            "Slack Web API calls by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.poll_latency = Histogram(
            "videobot_perf_poll_seconds",
            "Time Perf took to answer a status poll",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.delivery_lag = Histogram(
            "videobot_delivery_lag_seconds",
            "From Perf reporting complete to the video in the thread",
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 300),
        )

    # --- hooks the clients call -----------------------------------------------------------------

    async def perf_request(self, request: httpx.Request) -> None:
        request.extensions["videobot_started"] = time.perf_counter()

    async def perf_response(self, response: httpx.Response) -> None:
        endpoint = "create" if response.request.method == "POST" else "status"
        self.perf_calls.labels(endpoint, str(response.status_code)).inc()
        started = response.request.extensions.get("videobot_started")
        if endpoint == "status" and isinstance(started, float):
            self.poll_latency.observe(time.perf_counter() - started)

    def slack_call(self, method: str, outcome: str) -> None:
        self.slack_calls.labels(method, outcome).inc()

    def job_delivered(self, lag_seconds: float) -> None:
        self.delivery_lag.observe(max(0.0, lag_seconds))

    # --- the scrape -------------------------------------------------------------------------------

    async def render(self, store: Store, day: tuple[float, float]) -> bytes:
        counts = await store.scrape_counts(day)
        by_state = counts.by_state
        for state in JobState:
            self.jobs.labels(state.value).set(by_state.get(state.value, 0))
        self.queue_depth.set(by_state.get("accepted", 0) + by_state.get("queued", 0))
        self.delivered.set(by_state.get("delivered", 0))
        self.failed.set(by_state.get("failed", 0) + by_state.get("unknown", 0))
        self.submitted.set(counts.submitted)
        self.cost_today.clear()
        for channel, micros in counts.cost_today.items():
            self.cost_today.labels(channel).set(micros / 1_000_000)
        return generate_latest(self.registry)
