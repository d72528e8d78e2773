"""Soak: many jobs through `videobot run` as a subprocess, Perf failing at random, the bot killed mid-flight.

    python -m bench.soak [--jobs 60] [--kills 4] [--chaos 0.15] [--seed 7] [--replicas 1] [--database URL]

Not a unit test: it takes a minute or two and prints one table. The fakes of Slack and Perf run in this
process on 127.0.0.1; the bot is SIGKILLed and restarted `--kills` times while jobs are in flight.
With `--replicas 3 --database postgresql://…`, three bots share one PostgreSQL database, commands go to
each in turn, and each kill takes down one replica at random (a replacement starts at once).
Every figure is read from what the fakes saw, i.e. what people in Slack and Perf's bill would see.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import re
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import CHANNEL, signed_headers, slash_command_body
from tests.fakes.perf import FakePerf
from tests.fakes.process import BotProcess, bot_environment
from tests.fakes.slack import FakeSlack

_PROMPT = re.compile(r"“(Soak job \d+)”")


async def soak(
    jobs: int, kills: int, chaos: float, seed: int, replicas: int = 1, database: str | None = None
) -> dict[str, int]:
    rng = random.Random(seed)
    slack, perf = FakeSlack(), FakePerf()
    await slack.start()
    await perf.start()
    perf.chaos, perf.rng = chaos, random.Random(seed + 1)
    workdir = Path(tempfile.mkdtemp(prefix="videobot-soak-"))
    env = bot_environment(
        slack,
        perf,
        database or workdir / "soak.db",
        # A killed replica's jobs wait this long for another (PostgreSQL; SQLite clears leases at start).
        VIDEOBOT_LEASE_SECONDS="2",
        VIDEOBOT_POLL_TICK_SECONDS="0.1",
        VIDEOBOT_POLL_MIN_SECONDS="0.2",
        VIDEOBOT_POLL_MAX_SECONDS="1",
        VIDEOBOT_DAILY_JOBS_PER_CHANNEL="0",
        VIDEOBOT_JOB_TIMEOUT_MINUTES="3",
        VIDEOBOT_LOG_LEVEL="WARNING",
    )
    requested: list[str] = []
    bots = [BotProcess(env, workdir) for _ in range(replicas)]
    for bot in bots:
        await bot.start()
    started = time.monotonic()
    batches = kills + 1
    async with httpx.AsyncClient(timeout=10) as client:
        for batch in range(batches):
            for _ in range(jobs // batches + (1 if batch < jobs % batches else 0)):
                prompt = f"Soak job {len(requested) + 1}"
                body = slash_command_body(prompt, user=f"USOAK{len(requested) % 7:03d}")
                url = bots[len(requested) % replicas].url
                response = await client.post(f"{url}/slack/events", content=body, headers=signed_headers(body))
                if response.status_code == 200 and not response.text:
                    requested.append(prompt)
                await asyncio.sleep(rng.uniform(0.0, 0.15))
            if batch < kills:
                await asyncio.sleep(rng.uniform(0.5, 2.5))  # let jobs get mid-flight, then pull the plug
                victim = rng.randrange(replicas)
                await bots[victim].kill()
                bots[victim] = BotProcess(env, workdir)
                await bots[victim].start()

    def finished() -> dict[str, str]:
        outcome: dict[str, str] = {}
        for root in slack.roots(CHANNEL):
            found = _PROMPT.search(root.all_text())
            if found:
                text = root.all_text()
                outcome[found.group(1)] = (
                    "delivered" if "✅ Done" in text else "ended" if ("❌" in text or "⚠️" in text) else "running"
                )
        return outcome

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = finished()
        if len(states) >= len(requested) and "running" not in states.values():
            break
        await asyncio.sleep(0.5)
    for bot in bots:
        await bot.terminate()
    elapsed = time.monotonic() - started

    states = finished()
    roots_per_prompt = collections.Counter(
        m.group(1) for root in slack.roots(CHANNEL) if (m := _PROMPT.search(root.all_text()))
    )
    creates_per_prompt = collections.Counter(create["prompt"] for create in perf.creates)
    shares_per_thread = collections.Counter(share for file in slack.files.values() for share in file.shares)
    figures = {
        "jobs requested": len(requested),
        "jobs delivered": sum(1 for p in requested if states.get(p) == "delivered"),
        "jobs ended with a message": sum(1 for p in requested if states.get(p) == "ended"),
        "jobs lost": sum(1 for p in requested if states.get(p) not in ("delivered", "ended")),
        "Perf jobs created twice": sum(1 for count in creates_per_prompt.values() if count > 1),
        "videos uploaded twice": sum(1 for count in shares_per_thread.values() if count > 1),
        "root messages posted twice": sum(1 for count in roots_per_prompt.values() if count > 1),
        "replicas": replicas,
        "bot kills (SIGKILL)": kills,
        "Perf faults injected": sum(perf.chaos_faults.values()),
        "seconds": round(elapsed),
    }
    await slack.stop()
    await perf.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--chaos", type=float, default=0.15, help="share of Perf calls that fail")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicas", type=int, default=1, help="bots sharing the database (PostgreSQL for > 1)")
    parser.add_argument("--database", help="a DATABASE_URL (default: a new SQLite file)")
    args = parser.parse_args()
    if args.replicas > 1 and not (args.database or "").startswith("postgres"):
        parser.error("several replicas share a PostgreSQL database: pass --database postgresql://…")
    figures = asyncio.run(soak(args.jobs, args.kills, args.chaos, args.seed, args.replicas, args.database))
    width = max(len(name) for name in figures)
    print(f"| {'figure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in figures.items():
        print(f"| {name:<{width}} | {value:>5} |")
    must_be_zero = ("jobs lost", "Perf jobs created twice", "videos uploaded twice", "root messages posted twice")
    if any(figures[name] for name in must_be_zero):
        raise SystemExit("soak FAILED: " + ", ".join(f"{n}={figures[n]}" for n in must_be_zero if figures[n]))


if __name__ == "__main__":
    main()
