"""Many workspaces against one, in the same run (issue 25): what serving 100 installed workspaces costs.

    python -m bench.workspaces        # about two minutes; prints one Markdown table

The bot runs as `videobot run` (a subprocess, HTTP mode) against the fakes of Slack and Perf, which run on
127.0.0.1 in a thread of their own (bench/run.py's `Fakes`), with an unlimited Slack and a pacer that never
waits, so what is measured is the bot's own work. Two modes, in the order single, many, many, single (so a
machine getting busier or quieter during the run weighs on both alike), each figure the mean of its two runs:

- single: today's `SLACK_BOT_TOKEN`, every command from its one workspace;
- many: `SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET`, 100 workspaces installed (saved, sealed, in its database
  before it starts), the commands spread over all of them, each workspace's calls with its own token.

Each run: a warm-up of 100 commands (one per workspace in many mode: every workspace's token looked up
once), their videos delivered and the bot idle; then 200 commands, 10 in flight, their acks timed by the
sender; then until the 200 videos are in their threads. Figures:
- ack p99: the 99th percentile of the 200 commands' HTTP round trips;
- CPU per job: the bot process's CPU (/proc) from the first measured command until the 200 videos are in
  and the process is idle, less its idle rate over that time, per job;
- auth.test per 200 commands: calls the fake Slack received during the measured 200 (the goal is 0: the
  authorization is built from the stored bot, and the tokens are cached).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.oauth.installation_store.models.installation import Installation

from bench.run import Fakes, Row, bot_env, cpu_seconds, p99, started_bot, until_idle
from storage.db import Store
from storage.installations import SlackInstallationStore
from storage.secrets import KeyRing, generate_key
from tests.conftest import signed_headers
from tests.fakes.process import wait_for
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, TEAM_ID, FakeWorkspace

WORKSPACES = 100
WARM_UP = 100
COMMANDS = 200
IN_FLIGHT = 10
GOAL_RATIO = 1.2
_TRIGGERS = itertools.count(1)


@dataclass
class Figures:
    ack_p99: float
    cpu_per_job: float
    auth_tests: int


def command_body(team_id: str, n: int, prefix: str) -> str:
    return urlencode(
        {
            "team_id": team_id,
            "channel_id": f"CB{n % 20:04d}",
            "user_id": f"UBENCH{n % 40:03d}",
            "command": "/video",
            "text": f"{prefix} {n}",
            "response_url": "",
            "trigger_id": f"1.2.{next(_TRIGGERS)}",
            "api_app_id": "A0VIDEOBOT",
        }
    )


async def send(url: str, teams: list[str], count: int, prefix: str) -> list[float]:
    """`count` signed /video commands, the teams in turn, IN_FLIGHT at once; each one's round trip."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:

        async def one(n: int) -> None:
            body = command_body(teams[n % len(teams)], n, prefix)
            async with slots:
                started = time.perf_counter()
                async with session.post(f"{url}/slack/events", data=body, headers=signed_headers(body)) as answer:
                    text = await answer.text()
                latencies.append(time.perf_counter() - started)
            if answer.status != 200 or text:
                raise RuntimeError(f"command refused: {answer.status} {text[:200]}")

        await asyncio.gather(*(one(n) for n in range(count)))
    return latencies


async def install(database: Path, key: str, workspaces: list[FakeWorkspace]) -> None:
    """Each workspace installed as the OAuth flow would have saved it (sealed with `key`)."""
    store = await Store.open(f"sqlite:///{database}")
    try:
        installations = SlackInstallationStore(store, KeyRing.parse(key))
        for workspace in workspaces:
            await installations.async_save(
                Installation(
                    app_id="A0VIDEOBOT",
                    enterprise_id=None,
                    team_id=workspace.team_id,
                    team_name=workspace.name,
                    bot_token=workspace.bot_token,
                    bot_id=workspace.bot_id,
                    bot_user_id=workspace.bot_user_id,
                    bot_scopes="commands,chat:write,files:write,users:read",
                    user_id="UINSTALL",
                    installed_at=time.time(),
                )
            )
    finally:
        await store.close()


async def one_run(fakes: Fakes, workdir: Path, label: str, many: bool) -> Figures:
    database = workdir / f"{label}.db"
    overrides: dict[str, str] = {}
    teams = [TEAM_ID]
    if many:
        key = generate_key()
        workspaces = [fakes.slack.add_workspace(f"TW{label[-1]}{n:03d}") for n in range(WORKSPACES)]
        teams = [str(workspace.team_id) for workspace in workspaces]
        await install(database, key, workspaces)
        overrides = {
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "VIDEOBOT_ENCRYPTION_KEY": key,
            "SLACK_BOT_TOKEN": "",
        }
    bot = await started_bot(bot_env(fakes, workdir, database=f"sqlite:///{database}", **overrides), workdir)
    try:
        pid = bot.pid
        shared = fakes.videos_shared()
        await send(bot.url, teams, WARM_UP, f"{label} warm-up")
        await wait_for(lambda: fakes.videos_shared() >= shared + WARM_UP, within=180, what="the warm-up videos")
        await until_idle(pid)
        idle_from, idle_cpu = time.monotonic(), cpu_seconds(pid)
        await asyncio.sleep(2)
        idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_from)

        shared, auth_tests = fakes.videos_shared(), fakes.slack.call_count("auth.test")
        began, cpu_before = time.monotonic(), cpu_seconds(pid)
        latencies = await send(bot.url, teams, COMMANDS, f"{label} job")
        await wait_for(lambda: fakes.videos_shared() >= shared + COMMANDS, within=240, what="the measured videos")
        await until_idle(pid)
        spent, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - began
        return Figures(
            ack_p99=p99(latencies),
            cpu_per_job=(spent - idle_rate * elapsed) / COMMANDS,
            auth_tests=fakes.slack.call_count("auth.test") - auth_tests,
        )
    finally:
        await bot.terminate()


async def compare(fakes: Fakes, workdir: Path) -> list[Row]:
    runs: dict[bool, list[Figures]] = {False: [], True: []}
    for n, is_many in enumerate((False, True, True, False)):
        label = f"{'many' if is_many else 'single'}{n}"
        runs[is_many].append(await one_run(fakes, workdir, label, is_many))
    single, many = runs[False], runs[True]

    def mean(figures: list[Figures], field: str) -> float:
        return statistics.fmean(getattr(f, field) for f in figures)

    ack_single, ack_many = mean(single, "ack_p99"), mean(many, "ack_p99")
    cpu_single, cpu_many = mean(single, "cpu_per_job"), mean(many, "cpu_per_job")
    auth_many = max(f.auth_tests for f in many)
    return [
        Row(
            f"ack p99, {WORKSPACES} workspaces installed",
            f"{ack_many * 1000:.1f} ms",
            f"{ack_single * 1000:.1f} ms (one workspace)",
            f"{ack_many / ack_single:.2f}x",
            f"≤ {GOAL_RATIO}x",
            ack_many <= GOAL_RATIO * ack_single,
        ),
        Row(
            f"CPU per job, {WORKSPACES} workspaces installed",
            f"{cpu_many * 1000:.1f} ms",
            f"{cpu_single * 1000:.1f} ms (one workspace)",
            f"{cpu_many / cpu_single:.2f}x",
            f"≤ {GOAL_RATIO}x",
            cpu_many <= GOAL_RATIO * cpu_single,
        ),
        Row(
            f"auth.test calls per {COMMANDS} commands after warm-up",
            str(auth_many),
            f"{max(f.auth_tests for f in single)} (one workspace)",
            "-",
            "0",
            auth_many == 0,
        ),
    ]


def table(rows: list[Row]) -> str:
    lines = ["| figure | value | baseline | ratio | goal | met |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r.figure} | {r.value} | {r.baseline} | {r.ratio} | {r.goal} | {'yes' if r.met else 'NO'} |" for r in rows
    ]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as directory, Fakes() as fakes:
        rows = asyncio.run(compare(fakes, Path(directory)))
    print(table(rows))
    return 0 if all(row.met for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
