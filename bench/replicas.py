"""Replicas on PostgreSQL beside one process on SQLite: ack latency and jobs delivered per second; and
with `--slack-budget`, replicas sharing one Slack budget under Slack's limits (issue 27).

    python -m bench.replicas                  # about a minute; prints one Markdown table
    python -m bench.replicas --slack-budget   # a few minutes; 1, 2, 3 replicas under Slack's limits

The default run: each setup gets the same load: a burst of signed `/video` commands, 50 at a time, spread over the
replicas in turn as a load balancer would, with the fakes answering every job in 3.5 s. PostgreSQL is
VIDEOBOT_TEST_POSTGRES_URL's server, or a throwaway one started with `.ci/postgres`. Every figure is
also given as a ratio to the SQLite process measured in the same run: the machine is shared and noisy.

`--slack-budget`: 1, 2 and 3 replicas on PostgreSQL, each at the default pace, against a fake Slack that
enforces Slack's published limits; Slack's clock and the bot's pacer both run `--speed` times faster (4 by
default: a uniform scale on both sides, the relation between them unchanged; `--speed 1` is Slack's real
pace, about four times longer). Each setup has fresh fakes and a fresh database; 60 commands at once over 5
channels, spread over the replicas in turn, each job 1 s queued and 10 s processing at Perf. Figures: calls
Slack answered 429 (goal 0), the last video's delivery after the commands were sent and its ratio to one
replica's (goal: no worse), and the pacing's own cost: round trips to the shared buckets per Slack call
(each replica logs its counts as it stops: `event=slack_pace_shared`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.run import Fakes, bot_env, p99, send_commands, started_bot
from tests.conftest import signed_headers, slash_command_body
from tests.fakes.databases import fresh_database
from tests.fakes.process import wait_for
from tests.fakes.slack import FakeSlack

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


# --- --slack-budget: replicas sharing one Slack budget (issue 27) -------------------------------------

BUDGET_COMMANDS = 60
BUDGET_CHANNELS = tuple(f"C0BENCH{n}" for n in range(5))
_SHARED_USE = re.compile(r"event=slack_pace_shared calls=(\d+) round_trips=(\d+) fallbacks=(\d+)")


@dataclass
class BudgetResult:
    replicas: int
    rate_limited: int
    last_delivery: float  # seconds from the commands to the last video in its thread
    slack_calls: int
    round_trips: int
    fallbacks: int


class LimitedFakes(Fakes):
    """The fakes with Slack's published limits on, their clock `speed` times faster."""

    def __init__(self, speed: float) -> None:
        super().__init__()
        self.speed = speed

    def __enter__(self) -> LimitedFakes:
        super().__enter__()

        async def limited() -> None:
            await self.slack.stop()
            self.slack = FakeSlack(limits=True, speed=self.speed)
            await self.slack.start()

        self.run(limited())
        return self


async def _commands(urls: list[str], count: int) -> None:
    """`count` signed commands at once, over the channels and the replicas in turn."""
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(n: int) -> None:
            body = slash_command_body(f"Budget {n}", user=f"UBUDGET{n:03d}", channel=BUDGET_CHANNELS[n % 5])
            response = await client.post(
                f"{urls[n % len(urls)]}/slack/events", content=body, headers=signed_headers(body)
            )
            if response.status_code != 200 or response.text:
                raise RuntimeError(f"command refused: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(one(n) for n in range(count)))


async def measure_budget(replicas: int, speed: float) -> BudgetResult:
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-budget-"))
    with LimitedFakes(speed) as fakes:
        fakes.perf.timeline = (1.0, 10.0)
        async with fresh_database("postgresql", workdir) as url:
            env = bot_env(fakes, workdir, url, VIDEOBOT_SLACK_PACE=str(speed), VIDEOBOT_LOG_LEVEL="INFO")
            bots = [await started_bot(env, workdir) for _ in range(replicas)]
            try:
                started = time.monotonic()
                await _commands([bot.url for bot in bots], BUDGET_COMMANDS)
                await wait_for(lambda: fakes.videos_shared() >= BUDGET_COMMANDS, within=900, what="every video")
                last = max(f.shared_at for f in list(fakes.slack.files.values()) if f.shared_at)
            finally:
                for bot in bots:
                    await bot.terminate()
        used = [tuple(int(g) for g in m.groups()) for bot in bots for m in _SHARED_USE.finditer(bot.log_text())]
        return BudgetResult(
            replicas,
            len(fakes.slack.rate_limited),
            last - started,
            sum(u[0] for u in used),
            sum(u[1] for u in used),
            sum(u[2] for u in used),
        )


def budget_table(results: list[BudgetResult], speed: float) -> str:
    base = results[0]
    lines = [
        f"Slack's limits at {speed:g}x on both sides; {BUDGET_COMMANDS} commands over {len(BUDGET_CHANNELS)} channels",
        "",
        "| replicas | calls answered 429 | last delivery | vs 1 replica | Slack calls | round trips | per call |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        per_call = r.round_trips / r.slack_calls if r.slack_calls else 0.0
        ratio = r.last_delivery / base.last_delivery
        lines.append(
            f"| {r.replicas} | {r.rate_limited} | {r.last_delivery:.1f} s | {ratio:.2f}x "
            f"| {r.slack_calls} | {r.round_trips} | {per_call:.2f} |"
        )
    fallbacks = sum(r.fallbacks for r in results)
    lines.append("")
    lines.append(f"calls paced locally because the database did not answer: {fallbacks}")
    return "\n".join(lines)


async def run_budget(speed: float) -> list[BudgetResult]:
    results = []
    for replicas in (1, 2, 3):
        print(f"running {replicas} replica(s) under Slack's limits…", file=sys.stderr, flush=True)
        results.append(await measure_budget(replicas, speed))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=300, help="commands in the measured burst (default 300)")
    parser.add_argument("--slack-budget", action="store_true", help="replicas sharing one Slack budget (issue 27)")
    parser.add_argument("--speed", type=float, default=4.0, help="--slack-budget: Slack's clock, both sides")
    args = parser.parse_args()
    os.environ["VIDEOBOT_TEST_POSTGRES_URL"] = postgres_url()
    if args.slack_budget:
        print(budget_table(asyncio.run(run_budget(args.speed)), args.speed))
        return
    print(table(asyncio.run(run(args.commands))))


if __name__ == "__main__":
    main()
