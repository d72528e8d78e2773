"""Replicas on PostgreSQL beside one process on SQLite: ack latency and jobs delivered per second.

    python -m bench.replicas            # about a minute; prints one Markdown table

Each setup gets the same load: a burst of signed `/video` commands, 50 at a time, spread over the
replicas in turn as a load balancer would, with the fakes answering every job in 3.5 s. PostgreSQL is
VIDEOBOT_TEST_POSTGRES_URL's server, or a throwaway one started with `.ci/postgres`. Every figure is
also given as a ratio to the SQLite process measured in the same run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.run import Fakes, bot_env, p99, send_commands, started_bot
from tests.fakes.databases import fresh_database
from tests.fakes.process import wait_for

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Setup:
    name: str
    engine: str
    replicas: int


SETUPS = (
    Setup("1 process, SQLite", "sqlite", 1),
    Setup("1 replica, PostgreSQL", "postgresql", 1),
    Setup("2 replicas, PostgreSQL", "postgresql", 2),
    Setup("3 replicas, PostgreSQL", "postgresql", 3),
)


@dataclass
class Result:
    setup: Setup
    ack_p50: float
    ack_p99: float
    jobs_per_second: float


async def measure(fakes: Fakes, setup: Setup, commands: int) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-replicas-"))
    async with fresh_database(setup.engine, workdir) as url:
        env = bot_env(fakes, workdir, url, VIDEOBOT_LEASE_SECONDS="10")
        bots = [await started_bot(env, workdir) for _ in range(setup.replicas)]
        urls = [bot.url for bot in bots]
        try:
            await send_commands(urls, 10 * len(urls), 10, f"Warm-up {setup.engine}{setup.replicas}")
            before = fakes.videos_shared() + 10 * len(urls)
            await wait_for(lambda: fakes.videos_shared() >= before, within=60, what="the warm-up videos")
            started = time.monotonic()
            latencies = await send_commands(urls, commands, 50, f"Load {setup.engine}{setup.replicas}", warm_up=True)
            # The warm-up commands of send_commands' own (50 per URL) are delivered as well.
            expected = before + commands + 50 * len(urls)
            await wait_for(lambda: fakes.videos_shared() >= expected, within=180, what="every video")
            last = max(f.shared_at for f in fakes.slack.files.values() if f.shared_at)
        finally:
            for bot in bots:
                await bot.terminate()
    delivered = commands + 50 * len(urls)
    return Result(setup, statistics.median(latencies), p99(latencies), delivered / (last - started))


def postgres_url() -> str:
    url = os.environ.get("VIDEOBOT_TEST_POSTGRES_URL", "").strip()
    if url:
        return url
    print("starting a throwaway PostgreSQL with .ci/postgres…", file=sys.stderr, flush=True)
    out = subprocess.run(["bash", str(ROOT / ".ci" / "postgres")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


async def run(commands: int) -> list[Result]:
    results = []
    with Fakes() as fakes:
        fakes.perf.timeline = (0.5, 3.0)
        for setup in SETUPS:
            print(f"running {setup.name}…", file=sys.stderr, flush=True)
            results.append(await measure(fakes, setup, commands))
    return results


def table(results: list[Result]) -> str:
    base = results[0]
    lines = [
        "| setup | ack p50 | ack p99 | p99 vs SQLite | jobs delivered per second | vs SQLite |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.setup.name} | {r.ack_p50 * 1000:.0f} ms | {r.ack_p99 * 1000:.0f} ms "
            f"| {r.ack_p99 / base.ack_p99:.2f}x | {r.jobs_per_second:.1f} "
            f"| {r.jobs_per_second / base.jobs_per_second:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=300, help="commands in the measured burst (default 300)")
    args = parser.parse_args()
    os.environ["VIDEOBOT_TEST_POSTGRES_URL"] = postgres_url()
    print(table(asyncio.run(run(args.commands))))


if __name__ == "__main__":
    main()
