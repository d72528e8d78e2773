"""The benchmark suite: how well the bot does its job, each figure beside a baseline run in the same run.

    python -m bench.run            # a few minutes; prints one Markdown table, then bench/slack_limits.py's

The fakes of Slack and Perf run on 127.0.0.1 in a thread with their own event loop; the bot runs as a
subprocess (`videobot run`) driven over real HTTP with signed requests; its memory and CPU are read
from /proc. Ratios against a baseline measured here, never absolute timings, are what the goals judge:
these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import httpx

from tests.conftest import signed_headers, slash_command_body
from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.process import BotProcess, bot_environment, wait_for
from tests.fakes.slack import FakeSlack

T = TypeVar("T")


@dataclass
class Row:
    figure: str
    value: str
    baseline: str
    ratio: str
    goal: str
    met: bool


class Fakes:
    """FakeSlack and FakePerf served from their own thread, so the load generator never slows them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.slack = FakeSlack(limits=False)
        self.perf = FakePerf()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def __enter__(self) -> Fakes:
        self.thread.start()

        async def build() -> None:
            # These benches measure the bot itself, as before Slack's limits were modelled: an unlimited
            # Slack, and a pacer that never waits (VIDEOBOT_SLACK_PACE below). bench/slack_limits.py
            # measures the bot under Slack's published limits.
            self.slack, self.perf = FakeSlack(limits=False), FakePerf()
            await self.slack.start()
            await self.perf.start()

        self.run(build())
        return self

    def videos_shared(self) -> int:
        """Videos that reached a thread so far (every bench before this one included)."""
        # A copy first: the fakes add files from their own thread meanwhile.
        return sum(1 for f in list(self.slack.files.values()) if f.shared_at)

    def __exit__(self, *_: object) -> None:
        self.run(self.slack.stop())
        self.run(self.perf.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def bot_env(fakes: Fakes, workdir: Path, database: str | None = None, **overrides: str) -> dict[str, str]:
    settings = {
        "VIDEOBOT_DAILY_JOBS_PER_CHANNEL": "0",
        "VIDEOBOT_MAX_CONCURRENT_JOBS": "0",
        "VIDEOBOT_LOG_LEVEL": "WARNING",
        "VIDEOBOT_SLACK_PACE": "1000",
        **overrides,
    }
    return bot_environment(fakes.slack, fakes.perf, database or workdir / "bench.db", **settings)


async def started_bot(env: dict[str, str], workdir: Path) -> BotProcess:
    bot = BotProcess(env, workdir)
    await bot.start()
    return bot


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until_idle(pid: int, within: float = 60.0) -> None:
    """Until the process spends under 2% of a core over half a second."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.01:
            return
    raise RuntimeError(f"process {pid} was still busy after {within:.0f} s")


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def send_commands(
    url: str | list[str], count: int, concurrency: int, prefix: str, warm_up: bool = False
) -> list[float]:
    """Signed /video commands, `concurrency` in flight at once; returns each one's latency in seconds.

    With several URLs (replicas behind a load balancer) the commands go to each in turn."""
    urls = [url] if isinstance(url, str) else url
    requests = [(body, signed_headers(body)) for n in range(count) for body in [_command(prefix, n)]]
    turn = itertools.cycle(urls)
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    # aiohttp, not httpx: the generator must be much cheaper than what it measures. Like Slack, it
    # keeps connections open between requests.
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: str, headers: dict[str, str], measured: bool) -> None:
            async with slots:
                started = time.perf_counter()
                async with session.post(f"{next(turn)}/slack/events", data=body, headers=headers) as response:
                    text = await response.text()
                if measured:
                    latencies.append(time.perf_counter() - started)
                if response.status != 200 or text:
                    raise RuntimeError(f"command refused: {response.status} {text[:200]}")

        # Open the connections first, as a running Slack would have them.
        warm = [_command(f"{prefix} warm-up", n) for n in range(concurrency * len(urls))] if warm_up else []
        await asyncio.gather(*(one(body, signed_headers(body), False) for body in warm))
        await asyncio.gather(*(one(body, headers, True) for body, headers in requests))
    return latencies


def _command(prefix: str, n: int) -> str:
    return slash_command_body(f"{prefix} {n}", user=f"UBENCH{n % 40:03d}")


# --- 1. ack latency -------------------------------------------------------------------------------

_BASELINE_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.Response(text="")
app = web.Application()
app.router.add_post("/slack/events", ok)
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"videobot listening on port {runner.addresses[0][1]}", flush=True)
    import asyncio
    await asyncio.Event().wait()
import asyncio
asyncio.run(main())
"""


async def ack_latency(fakes: Fakes, workdir: Path, rounds: int = 5) -> list[Row]:
    """The baseline's and the bot's bursts take turns, and each side's figure is its median round: a
    moment when the shared machine is busy then weighs on both sides, not on whichever ran then."""
    baseline = BotProcess(dict(os.environ), workdir, command=[sys.executable, "-c", _BASELINE_SERVER])
    await baseline.start()
    bot = await started_bot(bot_env(fakes, workdir), workdir)
    shared = fakes.videos_shared()
    await send_commands(bot.url, 20, 20, "Warm-up")
    await wait_for(lambda: fakes.videos_shared() >= shared + 20, within=60, what="the warm-up videos")
    await until_idle(bot.pid)
    base_rounds, bot_rounds = [], []
    for n in range(rounds):
        base_rounds.append(p99(await send_commands(baseline.url, 200, 50, f"Baseline {n}", warm_up=True)))
        before = fakes.videos_shared()
        bot_rounds.append(p99(await send_commands(bot.url, 200, 50, f"Burst {n}", warm_up=True)))

        # The next baseline round must not share the machine with this burst's jobs (and their 50 warm-ups),
        # nor with the final edits that follow each upload.
        def burst_shared(b: int = before) -> bool:
            return fakes.videos_shared() >= b + 250

        await wait_for(burst_shared, within=120, what=f"burst {n}'s videos")
        await until_idle(bot.pid)
    await bot.terminate()
    await baseline.terminate()
    value, base = statistics.median(bot_rounds), statistics.median(base_rounds)
    ratio = value / base

    def rounds_ms(samples: list[float]) -> str:
        return ", ".join(f"{sample * 1000:.0f}" for sample in samples)

    return [
        Row(
            f"ack latency p99, 200 `/video` at 50 at a time (median of {rounds} rounds)",
            f"{value * 1000:.0f} ms (rounds: {rounds_ms(bot_rounds)})",
            f"{base * 1000:.0f} ms (bare aiohttp 200; rounds: {rounds_ms(base_rounds)})",
            f"{ratio:.1f}x",
            "< 150 ms and < 4x",
            value < 0.150 and ratio < 4,
        )
    ]


# --- 2 + 3. polls per job and delivery lag ---------------------------------------------------------


async def docs_client(perf_url: str, prompt: str, completed: Callable[[str], float]) -> tuple[int, float]:
    """The docs' own loop: create, then poll every 5 s until done. Returns (polls, lag after complete)."""
    async with httpx.AsyncClient(base_url=perf_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        created = (await client.post("/v1/video/generations", json={"prompt": prompt, "model": "pika"})).json()
        polls = 0
        while True:
            await asyncio.sleep(5)
            polls += 1
            status = (await client.get(f"/v1/video/generations/{created['id']}")).json()
            if status["status"] == "complete":
                return polls, time.monotonic() - completed(created["id"])


async def polls_and_lag(fakes: Fakes, workdir: Path, jobs: int = 3) -> list[Row]:
    fakes.perf.timeline = (2.0, 40.0)
    bot = await started_bot(bot_env(fakes, workdir), workdir)
    first_call = len(fakes.slack.calls)
    shared_before = fakes.videos_shared()
    baseline_task = asyncio.create_task(docs_client(fakes.perf.api_url, "Docs client", fakes.perf.completed_at))
    await send_commands(bot.url, jobs, jobs, "Timeline")
    await wait_for(lambda: fakes.videos_shared() >= shared_before + jobs, within=120, what="the timeline jobs")
    base_polls, base_lag = await baseline_task
    await bot.terminate()

    bot_jobs = [job_id for job_id, job in fakes.perf.jobs.items() if job.body["prompt"].startswith("Timeline")]
    polls = collections.Counter(fakes.perf.polls)
    mean_polls = statistics.mean(polls[job_id] for job_id in bot_jobs)
    # Delivery lag: from the moment Perf's job became complete to the file shared in its thread.
    files_by_job = {file.filename: file for file in fakes.slack.files.values()}
    lags = []
    for job_id in bot_jobs:
        prompt = fakes.perf.jobs[job_id].body["prompt"]
        name = "-".join(prompt.lower().split()) + ".mp4"
        file = files_by_job[name]
        assert file.shared_at is not None
        lags.append(file.shared_at - fakes.perf.completed_at(job_id))
    # Progress edits: the longest silence of any job's progress message while it ran.
    edits: dict[str, list[float]] = collections.defaultdict(list)
    for (method, params), at in zip(fakes.slack.calls[first_call:], fakes.slack.call_times[first_call:], strict=True):
        if method == "chat.update" and "%" in str(params.get("text", "")):
            edits[params["ts"]].append(at)
    longest_silence = max(max(b - a for a, b in itertools.pairwise(times)) for times in edits.values())
    lag = max(lags)
    fakes.perf.timeline = None
    return [
        Row(
            "Perf polls per job (2 s queued + 40 s processing)",
            f"{mean_polls:.1f}",
            f"{base_polls} (docs' 5 s loop)",
            f"{mean_polls / base_polls:.2f}x",
            "≤ 0.4x, progress edited every ≤ 15 s",
            mean_polls / base_polls <= 0.4 and longest_silence <= 15.5,
        ),
        Row(
            "longest gap between progress edits while processing",
            f"{longest_silence:.1f} s",
            "-",
            "-",
            "≤ 15 s",
            longest_silence <= 15.5,
        ),
        Row(
            "delivery lag: Perf `complete` → video in thread (worst of 3)",
            f"{lag:.2f} s",
            f"{base_lag:.2f} s (docs' 5 s loop)",
            f"{lag / base_lag:.2f}x" if base_lag > 0 else "-",
            "< 1 s + transfer",
            lag < 1.0,
        ),
    ]


# --- 4. memory while delivering 400 MB ---------------------------------------------------------------


async def memory_400mb(fakes: Fakes, workdir: Path) -> list[Row]:
    bot = await started_bot(bot_env(fakes, workdir), workdir)
    pid = bot.pid
    shared_before = fakes.videos_shared()
    await send_commands(bot.url, 1, 1, "Small warm-up")
    await wait_for(lambda: fakes.videos_shared() > shared_before, within=60, what="the warm-up video")
    before = rss_bytes(pid)
    fakes.perf.video_size = 400_000_000
    shared_before = fakes.videos_shared()
    await send_commands(bot.url, 1, 1, "Big video")
    peak = before
    deadline = time.monotonic() + 180
    while fakes.videos_shared() <= shared_before:
        peak = max(peak, rss_bytes(pid))
        if time.monotonic() > deadline:
            raise RuntimeError("the 400 MB video was not delivered")
        await asyncio.sleep(0.01)
    fakes.perf.video_size = 300_000
    big = max(fakes.slack.files.values(), key=lambda f: f.received)
    await bot.terminate()
    growth = peak - before
    return [
        Row(
            f"peak memory growth delivering a {big.received / 1e6:.0f} MB video",
            f"{growth / 2**20:.1f} MB",
            f"{before / 2**20:.0f} MB (RSS just before)",
            f"+{100 * growth / before:.0f}%",
            "< 48 MB",
            growth < 48 * 2**20,
        )
    ]


# --- 5. CPU per job --------------------------------------------------------------------------------


async def cpu_per_job(fakes: Fakes, workdir: Path, jobs: int = 50) -> list[Row]:
    bot = await started_bot(bot_env(fakes, workdir), workdir)
    pid = bot.pid
    start_shared = fakes.videos_shared()
    await send_commands(bot.url, 5, 5, "CPU warm-up")
    await wait_for(lambda: fakes.videos_shared() >= start_shared + 5, within=60, what="the warm-up videos")
    await until_idle(pid)  # the warm-up jobs' final edits come after their uploads
    start_shared = fakes.videos_shared()
    idle_from, idle_cpu = time.monotonic(), cpu_seconds(pid)
    await asyncio.sleep(3)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_from)
    began, cpu_before = time.monotonic(), cpu_seconds(pid)
    await send_commands(bot.url, jobs, 10, "CPU job")
    await wait_for(lambda: fakes.videos_shared() >= start_shared + jobs, within=120, what="the CPU jobs")
    await asyncio.sleep(1)  # the final edits after the upload
    spent = cpu_seconds(pid) - cpu_before
    elapsed = time.monotonic() - began
    await bot.terminate()
    per_job = (spent - idle_rate * elapsed) / jobs
    return [
        Row(
            "CPU per job, command to final edit",
            f"{per_job * 1000:.1f} ms",
            f"idle {idle_rate * 1000:.1f} ms/s subtracted",
            "-",
            "< 25 ms",
            per_job < 0.025,
        )
    ]


# --- 6. the poller tick with 10,000 jobs in flight ---------------------------------------------------


async def tick_cost(fakes: Fakes, workdir: Path) -> list[Row]:
    from bot.domain.job import JobState
    from bot.runtime.app import open_services
    from bot.runtime.config import load_settings
    from tests.fakes.jobs import stored_job

    async def measure(path: Path, in_flight: int) -> float:
        env = bot_env(fakes, workdir)
        settings = replace(load_settings(env, dotenv_path=None), database_url=f"sqlite:///{path}")
        async with open_services(settings) as services:
            now = time.time()
            for n in range(in_flight):
                job = stored_job(
                    user_id=f"U{n % 50}",
                    state=JobState.PROCESSING,
                    created_at=now,
                    perf_job_id=f"job_{n}",
                    next_poll_at=now + 3600,
                )
                await services.store.insert_job(job)
            for _ in range(50):
                await services.poller.tick()
            timings = []
            for _ in range(500):
                started = time.perf_counter()
                await services.poller.tick()
                timings.append(time.perf_counter() - started)
            return statistics.median(timings)

    empty = await measure(workdir / "empty.db", 0)
    full = await measure(workdir / "full.db", 10_000)
    return [
        Row(
            "poller tick, 10,000 jobs in flight, none due",
            f"{full * 1e6:.0f} µs",
            f"{empty * 1e6:.0f} µs (0 jobs)",
            f"{full / empty:.2f}x",
            "< 2x",
            full / empty < 2,
        )
    ]


# --- 7. 200 jobs end to end --------------------------------------------------------------------------


async def two_hundred_jobs(fakes: Fakes, workdir: Path) -> list[Row]:
    fakes.perf.timeline = (0.5, 3.0)
    bot = await started_bot(bot_env(fakes, workdir), workdir)
    before = fakes.videos_shared()
    first_command = time.monotonic()
    await send_commands(bot.url, 200, 50, "Many")
    await wait_for(lambda: fakes.videos_shared() >= before + 200, within=120, what="200 videos")
    last = max(f.shared_at for f in fakes.slack.files.values() if f.shared_at)
    await bot.terminate()
    fakes.perf.timeline = None
    took = last - first_command
    return [
        Row(
            "200 jobs end to end, no concurrency limit",
            f"{took:.1f} s",
            "3.5 s (the fakes' own time per job)",
            f"{took / 3.5:.1f}x",
            "all delivered ≤ 10 s after the first command",
            took <= 10,
        )
    ]


BENCHES: dict[str, Callable[[Fakes, Path], Awaitable[list[Row]]]] = {
    "ack": ack_latency,
    "polls": polls_and_lag,
    "memory": memory_400mb,
    "cpu": cpu_per_job,
    "tick": tick_cost,
    "many": two_hundred_jobs,
}


async def run(selected: list[str]) -> list[Row]:
    rows: list[Row] = []
    with Fakes() as fakes:
        for name in selected:
            workdir = Path(tempfile.mkdtemp(prefix=f"videobot-bench-{name}-"))
            print(f"running {name}…", file=sys.stderr, flush=True)
            rows += await BENCHES[name](fakes, workdir)
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| figure | value | baseline (same run) | ratio | goal | met |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r.figure} | {r.value} | {r.baseline} | {r.ratio} | {r.goal} | {'yes' if r.met else 'NO'} |" for r in rows
    ]
    return "\n".join(lines)


# Slack's published limits beside an unlimited Slack (bench/slack_limits.py): its own table, after this one's.
LIMITS = "limits"


def main() -> None:
    from bench import slack_limits

    names = [*BENCHES, LIMITS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", nargs="*", help=f"some of {', '.join(names)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.benches) - set(names)
    if unknown:
        parser.error(f"unknown bench {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    selected = args.benches or names
    benches = [name for name in selected if name in BENCHES]
    rows = asyncio.run(run(benches)) if benches else []
    if rows:
        print(table(rows))
    limit_rows = asyncio.run(slack_limits.run()) if LIMITS in selected else []
    if limit_rows:
        print()
        print(slack_limits.table(limit_rows))
    if not all(row.met for row in rows) or not all(row.met for row in limit_rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
