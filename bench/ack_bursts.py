"""Why one burst's acks take twice as long as the next: what else the bot does while it answers them.

    python -m bench.ack_bursts                      # 10 bursts, an empty SQLite database
    python -m bench.ack_bursts --scrape             # with `/metrics` scraped every 0.25 s
    python -m bench.ack_bursts --database URL       # another database (a copy of bench.history's year)

One `videobot run` against the fakes (bench/run.py), and bursts of 200 signed `/video` 50 at a time
(bench/history.py's), each once the jobs of the one before have delivered and the bot is idle. For each
burst: its acks' p50 and p99; what of the jobs' own work went out while it was being answered (Slack
calls, Perf creates): the acks of a burst compete with the steps of the commands just before it; and the
garbage collector's pauses in the bot during it (how many, the longest), read from bench/gc_probe, a
`sitecustomize` this bench puts on the bot's PYTHONPATH (nothing in the bot knows of it). A burst whose
p99 is far above its p50 had something stop the event loop: the lines say what.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.history import SCRAPE_EVERY, _scrape_every, shared
from bench.run import Fakes, _command, bot_env, p99, started_bot, until_idle
from tests.conftest import signed_headers
from tests.fakes.process import wait_for

COMMANDS, AT_ONCE = 200, 50
PROBE = Path(__file__).parent / "gc_probe"


@dataclass
class Burst:
    p50: float
    p99: float
    slack_calls: int  # the jobs' Slack calls while the burst was being answered
    perf_creates: int
    pauses: list[float]  # the collector's pauses (ms) that began and ended within the burst


async def _acks(url: str, prefix: str) -> tuple[float, float, list[float]]:
    """The burst (after a warm-up of 50 that opens the connections, as Slack keeps them open): its wall
    clock start and end, and each ack's latency."""
    slots = asyncio.Semaphore(AT_ONCE)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=AT_ONCE)) as session:

        async def one(body: str, measured: bool) -> None:
            async with slots:
                started = time.perf_counter()
                async with session.post(f"{url}/slack/events", data=body, headers=signed_headers(body)) as answer:
                    await answer.read()
                if measured:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one(_command(f"{prefix} warm-up", n), False) for n in range(AT_ONCE)))
        began = time.time()
        await asyncio.gather(*(one(_command(prefix, n), True) for n in range(COMMANDS)))
        return began, time.time(), latencies


def _pauses(log: Path, began: float, ended: float) -> list[float]:
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        at, _generation, pause_ms = line.split()
        if began <= float(at) - float(pause_ms) / 1000 and float(at) <= ended:
            found.append(float(pause_ms))
    return found


def _full_collections(log: Path) -> list[float]:
    """Every full (generation 2) collection's pause over the whole run, in ms."""
    if not log.exists():
        return []
    return [
        float(pause)
        for _, generation, pause in (line.split() for line in log.read_text().splitlines())
        if generation == "2"
    ]


async def run(bursts: int, database: str | None, scrape: bool) -> tuple[list[Burst], list[float]]:
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-bursts-"))
    gc_log = workdir / "gc.log"
    env_extra = {"VIDEOBOT_METRICS": "1", "VIDEOBOT_BENCH_GC_LOG": str(gc_log)}
    results = []
    with Fakes() as fakes:
        env = bot_env(fakes, workdir, database, **env_extra)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")]))
        bot = await started_bot(env, workdir)
        try:
            for n in range(bursts):
                before = fakes.videos_shared()
                calls, creates = len(fakes.slack.calls), fakes.perf.create_requests
                scraper = asyncio.create_task(_scrape_every(bot.health_url, SCRAPE_EVERY)) if scrape else None
                try:
                    began, ended, latencies = await _acks(bot.url, f"A burst {n}")
                finally:
                    if scraper is not None:
                        scraper.cancel()
                # What reached the fakes by the last ack (the warm-up's roots and creates included).
                jobs_calls = len(fakes.slack.calls) - calls
                jobs_creates = fakes.perf.create_requests - creates
                results.append(
                    Burst(
                        statistics.median(latencies),
                        p99(latencies),
                        jobs_calls,
                        jobs_creates,
                        _pauses(gc_log, began, ended),
                    )
                )
                await wait_for(shared(fakes, before + COMMANDS + AT_ONCE), within=300, what="the burst's videos")
                await until_idle(bot.pid, within=120)
        finally:
            await bot.terminate()
    return results, _full_collections(gc_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--scrape", action="store_true", help="scrape /metrics every 0.25 s during each burst")
    args = parser.parse_args()
    results, full = asyncio.run(run(args.bursts, args.database, args.scrape))
    print(
        "| burst | ack p50 | ack p99 | jobs' Slack calls by its last ack | Perf creates | collector pauses (longest) |"
    )
    print("|---|---|---|---|---|---|")
    for n, burst in enumerate(results, 1):
        longest = f"{max(burst.pauses):.0f} ms" if burst.pauses else "-"
        print(
            f"| {n} | {burst.p50 * 1000:.0f} ms | {burst.p99 * 1000:.0f} ms | {burst.slack_calls} | "
            f"{burst.perf_creates} | {len(burst.pauses)} ({longest}) |"
        )
    p99s = sorted(burst.p99 * 1000 for burst in results)
    print(f"\np99 over the bursts: median {statistics.median(p99s):.0f} ms, range {p99s[0]:.0f}-{p99s[-1]:.0f} ms")
    if full:
        # In the order they happened: the first is the bot's start (with the freeze, the one before it).
        pauses = ", ".join(f"{pause:.0f}" for pause in full)
        print(f"full collections over the run: {len(full)}, pauses in ms: {pauses}")
    print(f"(load after: {Path('/proc/loadavg').read_text().split()[0]})", file=sys.stderr)


if __name__ == "__main__":
    main()
