"""The bot under Slack's published rate limits, beside the same bot against a Slack without limits.

    python -m bench.slack_limits      # a few minutes of real time; prints one Markdown table

Two scenarios, each run twice in this process, every run with fresh fakes and a fresh bot process:
- limited: `FakeSlack(limits=True, speed=1.0)` answers 429 past Slack's published limits, in real time,
  and the bot paces its calls to Slack's tiers (`slack_pace=1.0`);
- unlimited: `FakeSlack(limits=False)` takes every call, and the bot's pacer runs 1000x faster, so it
  never makes a call wait.

A. 30 `/video` commands at once in one channel, no account concurrency limit, each job 1 s queued and
   40 s processing at the fake Perf (which reports progress and an honest ETA).
B. 30 commands at once in one channel on an account that runs 5 jobs at a time, each job 1 s queued and
   10 s processing: Perf's own pace for these is 6 rounds of 11 s, 66 s.

The commands go as in bench/run.py: signed HTTP requests to the bot's /slack/events, all at once. The
fakes run on 127.0.0.1 in a thread with their own event loop; the bot runs as `serve()` in a subprocess
(the pace is set on its Settings by a small launcher). A goal is met
only when both runs meet it. After the last video each run goes on until the bot has finished with Slack.

The figures, every time a time.monotonic() the fakes recorded:
- 429s: calls the fake Slack answered 429 over the whole run (`rate_limited`);
- last job at Perf: the last create the fake Perf received, minus the moment the commands were sent;
- Perf `complete` → video in thread: a file's `shared_at` minus the moment the fake Perf's clock made its
  job complete (bench/run.py's delivery lag), worst of the 30;
- longest gap between progress edits: for each job, its progress message (the first reply in its thread)
  from its first edit showing processing progress until the job completes at Perf, the longest time
  between consecutive edits (`FakeMessage.edit_times`), the last gap ending at the completion; a job whose
  message was never edited while processing counts from the start of its processing;
- B's time: the last `shared_at` minus the moment the commands were sent, against Perf's own 66 s;
- payloads refused: messages and views the fake's Block Kit checks refused (`refused`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.run import send_commands
from tests.fakes.perf import FakePerf, FakePerfJob
from tests.fakes.process import BotProcess, bot_environment, wait_for
from tests.fakes.slack import FakeFile, FakeMessage, FakeSlack

T = TypeVar("T")

COMMANDS = 30
# Perf's own pace for scenario B: 30 jobs 5 at a time are 6 rounds of 1 s queued + 10 s processing.
B_PERF_PACE_SECONDS = 6 * 11.0
# After the last video, the run goes on until Slack has been quiet this long with every thread final
# (or this long without any call at all, whatever the threads show): the 429s are counted over it all.
QUIET_SECONDS = 3.0
STALLED_SECONDS = 15.0
SETTLE_WITHIN_SECONDS = 240.0
POLL_SECONDS = 0.25
# A progress text while processing: "▓▓░░ 45% · about 20 s left" (never 100%, which says "uploading").
PROCESSING_TEXT = re.compile(r"(?<!\d)\d{1,2}%")

# The bot's own `serve()`, with the pacer's rate multiplier set on its Settings (argv[1]).
_LAUNCHER = """
import asyncio, dataclasses, sys
from bot.runtime.app import serve
from bot.runtime.config import load_settings
from bot.runtime.logs import setup_logging
settings = dataclasses.replace(load_settings(dotenv_path=None), slack_pace=float(sys.argv[1]))
setup_logging(settings.log_level, settings.secrets(), settings.log_format)
asyncio.run(serve(settings))
"""


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    max_concurrent_jobs: int  # 0: no limit
    timeline: tuple[float, float]  # (queued, processing) seconds of each job at the fake Perf
    within: float  # seconds every video is given to reach its thread


@dataclass(frozen=True)
class Side:
    name: str
    limits: bool  # the fake Slack enforces the published limits
    pace: float  # the bot's Settings.slack_pace


SCENARIO_A = Scenario("A", "30 at once, one channel, no concurrency limit, 1 s + 40 s a job", 0, (1.0, 40.0), 240)
SCENARIO_B = Scenario("B", "30 at once, one channel, 5 jobs at a time, 1 s + 10 s a job", 5, (1.0, 10.0), 300)
LIMITED = Side("limited", limits=True, pace=1.0)
UNLIMITED = Side("unlimited", limits=False, pace=1000.0)


@dataclass
class Outcome:
    """What one run of a scenario measured; None where nothing could be measured."""

    scenario: Scenario
    side: Side
    delivered: int = 0
    rate_limited: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    first_create_after_command: float | None = None
    last_create_after_command: float | None = None
    worst_delivery_lag: float | None = None
    longest_progress_gap: float | None = None
    jobs_without_processing_edit: int = 0
    first_command_to_last_video: float | None = None
    settled: bool = False
    run_seconds: float = 0.0
    bot_warnings: list[str] = field(default_factory=list)


@dataclass
class LimitRow:
    figure: str
    limited: str
    unlimited: str
    goal: str
    met: bool
    missed_by: str = ""  # which run missed the goal, when one did


class ServedFakes:
    """A FakeSlack (limited or not) and a FakePerf served from their own thread and event loop."""

    def __init__(self, limits: bool) -> None:
        self.limits = limits
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.slack = FakeSlack(limits=limits, speed=1.0)
        self.perf = FakePerf()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def __enter__(self) -> ServedFakes:
        self.thread.start()

        async def build() -> None:
            self.slack, self.perf = FakeSlack(limits=self.limits, speed=1.0), FakePerf()
            await self.slack.start()
            await self.perf.start()

        self.run(build())
        return self

    def __exit__(self, *_: object) -> None:
        self.run(self.slack.stop())
        self.run(self.perf.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def shared_files(self) -> list[FakeFile]:
        return [file for file in list(self.slack.files.values()) if file.shared_at is not None]

    def slack_activity(self) -> int:
        """Calls Slack has seen so far, taken or answered 429."""
        return len(self.slack.calls) + len(self.slack.rate_limited)


def video_name(prompt: str) -> str:
    """The file a job's video is shared as (bench/run.py's mapping: these prompts are plain words)."""
    return "-".join(prompt.lower().split()) + ".mp4"


def root_and_progress(slack: FakeSlack, file: FakeFile) -> tuple[FakeMessage | None, FakeMessage | None]:
    """The job's root message (the thread its video was shared in) and its progress message (the
    first reply in that thread)."""
    channel, root_ts = file.shares[0]
    root = next((m for m in slack.messages if m.channel == channel and m.ts == root_ts), None)
    replies = slack.thread(channel, root_ts)
    return root, replies[0] if replies else None


def thread_final(slack: FakeSlack, file: FakeFile) -> bool:
    """Both of the job's messages show it done."""
    root, progress = root_and_progress(slack, file)
    return root is not None and progress is not None and "✅" in root.text and progress.text.startswith("✅")


async def until_settled(fakes: ServedFakes, within: float) -> bool:
    """Until Slack has been quiet a moment with every delivered thread final, or quiet a long while.

    False when neither happened within `within` seconds (the run's figures are then cut short)."""
    deadline = time.monotonic() + within
    seen, quiet_since = fakes.slack_activity(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        now, activity = time.monotonic(), fakes.slack_activity()
        if activity != seen:
            seen, quiet_since = activity, now
            continue
        files = fakes.shared_files()
        final = len(files) >= COMMANDS and all(thread_final(fakes.slack, f) for f in files)
        if now - quiet_since >= (QUIET_SECONDS if final else STALLED_SECONDS):
            return True
    return False


def longest_progress_gap(progress: FakeMessage | None, processing_from: float, completed: float) -> tuple[float, bool]:
    """The longest time the job's progress message went unedited while the job ran, and whether it was
    edited at all while processing.

    From the first edit showing processing progress to Perf's completion: the gaps between consecutive
    edits, the last one ending at the completion. A job whose message was never edited while processing
    (posted late, or never) counts from the start of its processing."""
    running = list(zip(progress.edit_times, progress.history, strict=True)) if progress else []
    running = [(at, text) for at, text in running if at < completed]
    first = next((n for n, (_, text) in enumerate(running) if PROCESSING_TEXT.search(text)), None)
    if first is None:
        points = [processing_from, *(at for at, _ in running if at > processing_from), completed]
    else:
        points = [*(at for at, _ in running[first:]), completed]
    return max(b - a for a, b in itertools.pairwise(points)), first is not None


def measure(outcome: Outcome, fakes: ServedFakes, first_command: float, prefix: str) -> None:
    slack, perf = fakes.slack, fakes.perf
    queued = outcome.scenario.timeline[0]
    outcome.rate_limited = list(slack.rate_limited)
    outcome.refused = list(slack.refused)
    jobs: list[FakePerfJob] = [job for job in list(perf.jobs.values()) if job.body["prompt"].startswith(prefix)]
    if jobs:
        # Every command was sent at `first_command`: the last create's own command included.
        last = max(jobs, key=lambda job: job.created_at)
        outcome.last_create_after_command = last.created_at - first_command
        outcome.first_create_after_command = min(job.created_at for job in jobs) - first_command
    files = {file.filename: file for file in fakes.shared_files()}
    lags, gaps = [], []
    for job in jobs:
        file = files.get(video_name(job.body["prompt"]))
        if file is None or file.shared_at is None:
            continue
        outcome.delivered += 1
        completed = perf.completed_at(job.id)
        lags.append(file.shared_at - completed)
        _, progress = root_and_progress(slack, file)
        gap, edited = longest_progress_gap(progress, job.created_at + queued, completed)
        gaps.append(gap)
        outcome.jobs_without_processing_edit += not edited
    if lags:
        outcome.worst_delivery_lag = max(lags)
        outcome.longest_progress_gap = max(gaps)
    shared = [file.shared_at for file in files.values() if file.shared_at is not None]
    if outcome.delivered == COMMANDS:
        outcome.first_command_to_last_video = max(shared) - first_command


async def run_once(scenario: Scenario, side: Side) -> Outcome:
    outcome = Outcome(scenario, side)
    workdir = Path(tempfile.mkdtemp(prefix=f"videobot-bench-limits-{scenario.key}-{side.name}-"))
    prefix = f"Limits {scenario.key}"
    print(f"running slack limits {scenario.key}, {side.name}: {scenario.title}…", file=sys.stderr, flush=True)
    began = time.monotonic()
    with ServedFakes(side.limits) as fakes:
        fakes.perf.timeline = scenario.timeline
        env = bot_environment(
            fakes.slack,
            fakes.perf,
            workdir / "bench.db",
            VIDEOBOT_DAILY_JOBS_PER_CHANNEL="0",
            VIDEOBOT_MAX_CONCURRENT_JOBS=str(scenario.max_concurrent_jobs),
            VIDEOBOT_LOG_LEVEL="WARNING",
        )
        bot = BotProcess(env, workdir, command=[sys.executable, "-c", _LAUNCHER, repr(side.pace)])
        await bot.start()
        try:
            first_command = time.monotonic()
            await send_commands(bot.url, COMMANDS, COMMANDS, prefix)
            try:
                await wait_for(
                    lambda: len(fakes.shared_files()) >= COMMANDS, within=scenario.within, what="every video"
                )
            except AssertionError:
                print(f"  only {len(fakes.shared_files())} videos within {scenario.within:.0f} s", file=sys.stderr)
            outcome.settled = await until_settled(fakes, SETTLE_WITHIN_SECONDS)
        finally:
            await bot.terminate()
        measure(outcome, fakes, first_command, prefix)
    outcome.run_seconds = time.monotonic() - began
    outcome.bot_warnings = [line for line in bot.output if "WARNING" in line or "ERROR" in line]
    report(outcome)
    return outcome


def report(outcome: Outcome) -> None:
    """What the table leaves out, on stderr: where the 429s and refusals were, what the bot warned of."""

    def out(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    out(f"{outcome.delivered}/{COMMANDS} delivered; settled: {outcome.settled}; run took {outcome.run_seconds:.0f} s")
    if outcome.first_create_after_command is not None:
        first, last = outcome.first_create_after_command, outcome.last_create_after_command
        out(f"creates at Perf from {first:.1f} s to {last:.1f} s after the commands")
    if outcome.rate_limited:
        by_method = collections.Counter(
            f"{method}{'@' + channel if channel else ''}" for method, channel in outcome.rate_limited
        )
        out(f"429s by method: {dict(by_method)}")
    for method, error, why in outcome.refused[:5]:
        out(f"refused: {method} {error}: {why[:200]}")
    events = collections.Counter(_event(line) for line in outcome.bot_warnings)
    if events:
        out(f"bot warnings by event: {dict(events)}")


def _event(line: str) -> str:
    found = re.search(r"event=(\S+)", line)
    return found.group(1) if found else line[:80]


# --- the table -------------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def row(
    figure: str,
    outcomes: tuple[Outcome, Outcome],
    show: Callable[[Outcome], str],
    goal: str,
    meets: Callable[[Outcome], bool],
) -> LimitRow:
    missed = [o.side.name for o in outcomes if not meets(o)]
    return LimitRow(figure, show(outcomes[0]), show(outcomes[1]), goal, not missed, " and ".join(missed))


def under(value: float | None, limit: float) -> bool:
    return value is not None and value < limit


def rows_a(outcomes: tuple[Outcome, Outcome]) -> list[LimitRow]:
    def gap(o: Outcome) -> str:
        text = seconds(o.longest_progress_gap)
        if o.jobs_without_processing_edit:
            text += f" ({o.jobs_without_processing_edit} jobs never edited while processing)"
        return text

    def delivered_note(o: Outcome) -> str:
        return "" if o.delivered == COMMANDS else f" ({o.delivered}/{COMMANDS} delivered)"

    return [
        row(
            "A: Slack calls answered 429 (whole run)",
            outcomes,
            lambda o: str(len(o.rate_limited)) + ("" if o.settled else " (run cut short)"),
            "≤ 5",
            lambda o: len(o.rate_limited) <= 5 and o.settled,
        ),
        row(
            "A: last job at Perf after its command",
            outcomes,
            lambda o: seconds(o.last_create_after_command),
            "< 5 s",
            lambda o: under(o.last_create_after_command, 5.0),
        ),
        row(
            f"A: Perf `complete` → video in thread (worst of {COMMANDS})",
            outcomes,
            lambda o: (
                (f"{o.worst_delivery_lag:.2f} s" if o.worst_delivery_lag is not None else "-") + delivered_note(o)
            ),
            "< 2 s",
            lambda o: under(o.worst_delivery_lag, 2.0) and o.delivered == COMMANDS,
        ),
        row(
            "A: longest gap between a running job's progress edits",
            outcomes,
            gap,
            "< 60 s",
            lambda o: under(o.longest_progress_gap, 60.0) and o.delivered == COMMANDS,
        ),
    ]


def rows_b(outcomes: tuple[Outcome, Outcome]) -> list[LimitRow]:
    def delivery(o: Outcome) -> str:
        if o.first_command_to_last_video is None:
            return f"{o.delivered}/{COMMANDS} delivered"
        took = o.first_command_to_last_video
        return f"{o.delivered}/{COMMANDS} in {took:.1f} s ({took / B_PERF_PACE_SECONDS:.2f}x of 66 s)"

    return [
        row(
            "B: every video in its thread, first command → last video, against Perf's 66 s",
            outcomes,
            delivery,
            f"all {COMMANDS}, < 1.25x",
            lambda o: under(o.first_command_to_last_video, 1.25 * B_PERF_PACE_SECONDS),
        ),
        row(
            "B: Slack calls answered 429 (whole run)",
            outcomes,
            lambda o: str(len(o.rate_limited)) + ("" if o.settled else " (run cut short)"),
            "≤ 5",
            lambda o: len(o.rate_limited) <= 5 and o.settled,
        ),
    ]


def refused_row(key: str, outcomes: tuple[Outcome, Outcome]) -> LimitRow:
    return row(
        f"{key}: payloads Slack would refuse",
        outcomes,
        lambda o: str(len(o.refused)),
        "0",
        lambda o: not o.refused,
    )


async def run(scenarios: Iterable[str] = ("A", "B")) -> list[LimitRow]:
    """The rows of the scenarios named ("A", "B"), each run limited, then unlimited."""
    rows: list[LimitRow] = []
    for key in scenarios:
        scenario, rows_of = SCENARIOS[key]
        outcomes = (await run_once(scenario, LIMITED), await run_once(scenario, UNLIMITED))
        rows += [*rows_of(outcomes), refused_row(key, outcomes)]
    return rows


def table(rows: Iterable[LimitRow]) -> str:
    lines = [
        "| figure | limited (Slack's published limits, pace 1) | unlimited (no limits, pace 1000) | goal | met |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        met = "yes" if r.met else f"NO ({r.missed_by})"
        lines.append(f"| {r.figure} | {r.limited} | {r.unlimited} | {r.goal} | {met} |")
    return "\n".join(lines)


SCENARIOS: dict[str, tuple[Scenario, Callable[[tuple[Outcome, Outcome]], list[LimitRow]]]] = {
    "A": (SCENARIO_A, rows_a),
    "B": (SCENARIO_B, rows_b),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help="A, B or both (default: both)")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    rows = asyncio.run(run(args.scenarios or list(SCENARIOS)))
    print(table(rows))
    if not all(r.met for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
