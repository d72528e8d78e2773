"""Languages (issue 26): what speaking a person's language costs, against English, in the same run.

    python -m bench.languages                 # German people against English ones, 60 jobs each
    python -m bench.languages --locale ja-JP  # any Slack locale (a language with no catalogue falls back)
    python -m bench.languages --jobs 200

The whole bot runs in this process (real services, a fake clock) against the fakes of Slack and Perf on
127.0.0.1. Two groups of people, the same prompts, interleaved batch by batch so the machine's noise falls
on both: one whose Slack is in English, one in `--locale`. For each group: the CPU a job takes from its
command to its delivery (process time, batch by batch), and the p99 of an ack (`/video status`, answered
within it, the dispatch through Bolt with the person's language looked up: 1,000 of each, interleaved
command by command). Goals: both ratios within 1.1; users.info asked at most once a
person for their language, however many commands they send.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bot import messages
from bot.domain.settings import Settings
from bot.runtime.app import build_bolt_app, open_services
from tests.conftest import SIGNING_SECRET, Bot, FakeClock, bolt_request, signed_headers, slash_command_body
from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.slack import BOT_TOKEN, FakeSlack

PEOPLE_PER_GROUP = 10
BATCH = 10


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _batch(bot: Bot, people: list[str], first: int, acks: list[float]) -> float:
    """BATCH jobs by `people`, each acked and run to delivery; the process time they took."""
    started = time.process_time()
    for n in range(first, first + BATCH):
        body = slash_command_body(f"A heron at dawn, take {n}", user=people[n % len(people)])
        before = time.perf_counter()
        response = await bot.bolt.async_dispatch(bolt_request(body, signed_headers(body)))
        acks.append(time.perf_counter() - before)
        if response.status != 200:
            raise RuntimeError(f"command refused: {response.status} {response.body[:200]}")
    await bot.run_jobs()
    return time.process_time() - started


async def measure(locale: str, jobs: int, ack_rounds: int = 1_000) -> tuple[dict[str, float], str]:
    slack, perf = FakeSlack(limits=False), FakePerf()
    await slack.start()
    await perf.start()
    english = [f"UEN{n:05d}" for n in range(PEOPLE_PER_GROUP)]
    other = [f"ULO{n:05d}" for n in range(PEOPLE_PER_GROUP)]
    for user in english:
        slack.add_user(user, locale="en-US")
    for user in other:
        slack.add_user(user, locale=locale)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            settings = Settings(
                slack_bot_token=BOT_TOKEN,
                slack_signing_secret=SIGNING_SECRET,
                perf_api_key=API_KEY,
                perf_api_url=perf.api_url,
                slack_api_url=slack.base_url + "/api/",
                database_url=f"sqlite:///{Path(workdir) / 'bench.db'}",
                media_hosts=(perf.media_host,),
                port=0,
                poll_min_seconds=2.0,
                poll_max_seconds=15.0,
            )
            settings = replace(settings, daily_jobs_per_channel=0, max_concurrent_jobs=1_000)
            clock = FakeClock()
            async with open_services(settings, clock) as services:
                bot = Bot(services, build_bolt_app(services), clock, slack, perf)
                # Warm up both groups: every person's language asked once (in the background), caches full.
                warm: list[float] = []
                await _batch(bot, english, 0, warm)
                await _batch(bot, other, 0, warm)
                await services.people.wait_idle()
                cpu: dict[str, list[float]] = {"en": [], "other": []}
                acks: dict[str, list[float]] = {"en": [], "other": []}
                for first in range(BATCH, BATCH + jobs, BATCH):
                    for group, people in (("en", english), ("other", other)):
                        cpu[group].append(await _batch(bot, people, first, acks[group]))
                # The acks, interleaved command by command (the order alternating each round), so a noisy
                # moment of the machine falls on both groups: `/video status`, answered within the ack.
                acks = {"en": [], "other": []}
                for n in range(ack_rounds):
                    pair = [("en", english[n % len(english)]), ("other", other[n % len(other)])]
                    for group, user in pair if n % 2 else reversed(pair):
                        body = slash_command_body("status", user=user)
                        before = time.perf_counter()
                        await bot.bolt.async_dispatch(bolt_request(body, signed_headers(body)))
                        acks[group].append(time.perf_counter() - before)
                asked = [params.get("user") for method, params in slack.calls if method == "users.info"]
                most_asked = max(asked.count(user) for user in english + other)
                spoken = messages.resolve(await services.people.language("T0001", other[0]))
    finally:
        messages.configure("en")
        perf.release()
        await perf.stop()
        await slack.stop()
    return {
        "cpu_ms_per_job_en": statistics.median(cpu["en"]) / BATCH * 1000,
        "cpu_ms_per_job_other": statistics.median(cpu["other"]) / BATCH * 1000,
        "ack_p99_ms_en": p99(acks["en"]) * 1000,
        "ack_p99_ms_other": p99(acks["other"]) * 1000,
        "users_info_per_person_most": float(most_asked),
    }, spoken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locale", default="de-DE", help="the other group's Slack locale (de-DE, ja-JP, es-LA…)")
    parser.add_argument("--jobs", type=int, default=60, help="jobs per group, measured (after a warm-up)")
    args = parser.parse_args()
    found, spoken = asyncio.run(measure(args.locale, args.jobs))
    cpu = found["cpu_ms_per_job_other"] / found["cpu_ms_per_job_en"]
    ack = found["ack_p99_ms_other"] / found["ack_p99_ms_en"]
    print(f"| measure | English | {args.locale} (spoken: {spoken}) | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| CPU per job (ms) | {found['cpu_ms_per_job_en']:.1f} | {found['cpu_ms_per_job_other']:.1f} "
        f"| {cpu:.2f} | ≤ 1.1 {'✅' if cpu <= 1.1 else '❌'} |"
    )
    print(
        f"| ack p99 (ms) | {found['ack_p99_ms_en']:.1f} | {found['ack_p99_ms_other']:.1f} "
        f"| {ack:.2f} | ≤ 1.1 {'✅' if ack <= 1.1 else '❌'} |"
    )
    most = found["users_info_per_person_most"]
    print(f"| users.info a person, most | | {most:.0f} | | ≤ 1 {'✅' if most <= 1 else '❌'} |")


if __name__ == "__main__":
    main()
