"""The fair line's pick costs the same however long the line: 10 jobs waiting from 5 people, then 10,000
from 500, same code, same run (issue 28's goal: the long line within 2x of the short one).

    python -m bench.fair_line               # SQLite; and PostgreSQL when VIDEOBOT_BENCH_POSTGRES_URL
                                            # (or VIDEOBOT_TEST_POSTGRES_URL) is set
    python -m bench.fair_line --rounds 200  # more timings per figure

Each line has the account's 5 slots with 4 taken, so one is free. Timed through `Store`, each figure
the median of many runs:

- *the pick*: deciding whether a waiting job gets the free slot (`claim_slot` on the next party's second
  job: every read the decision makes, and no write, so it can be repeated);
- *the tick's wake*: which parked jobs to wake for the free slot and for their new places (`wake_queue`,
  25 places shown). Bounded by those 25, not by the line: the short line has only 10 places to work
  out, so this one is expected a little above the pick's ratio, and no goal is set for it;
- *pick and claim*: the slot taken by the job whose turn it is, then given back (`claim_slot`, then
  `update_job` back to the line), so the next round picks again.

Why it stays flat: the next slot's party is the first row of line_parties_next, an index ordered as the
pick orders, (running, turn), holding only the parties with jobs in line; a party's next job is the
first row of jobs_party_waiting, (party, arrival). Neither read grows with the jobs waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.history_db import postgres_admin
from bot.domain.job import WAITING_STATES, Job, JobState
from bot.domain.line import party_of, turns
from storage.db import Store
from tests.fakes.jobs import stored_job

SLOTS = 5
RUNNING = 4
SHOWN = 25
GOAL = 2.0


async def fill(store: Store, waiting: int, people: int) -> None:
    """`waiting` jobs in line from `people` people, arriving in rounds; RUNNING of them already at Perf."""
    jobs = [
        stored_job(id=f"vb_fl{n:08d}", user_id=f"U{n % people:05d}", created_at=1_000.0 + n)
        for n in range(waiting + RUNNING)
    ]
    for start in range(0, len(jobs), 500):
        await asyncio.gather(*(store.insert_job(job) for job in jobs[start : start + 500]))
    for job in jobs[:RUNNING]:
        assert await store.claim_slot(job, SLOTS, 2_000.0)
    for job in jobs[RUNNING:]:
        await store.update_job(job, state=JobState.QUEUED, queue_position=None)
    # As a running bot leaves them: the first places told theirs and parked again (next_poll_at NULL).
    await store.wake_queue(SLOTS, 2_500.0, SHOWN)
    for job in await store.jobs(states=[JobState.QUEUED]):
        if job.next_poll_at is not None:
            await store.update_job(job, queue_position=await store.queue_position(job), next_poll_at=None)


async def next_jobs(store: Store) -> tuple[Job, Job]:
    """The job whose turn it is, and its party's next one."""
    [party] = turns(await store.line_parties(), 1)
    mine = sorted(
        (job for job in await store.jobs(states=sorted(WAITING_STATES)) if party_of(job) == party),
        key=lambda job: job.arrival or 0,
    )
    return mine[0], mine[1]


async def median_ms(run: Callable[[], Awaitable[object]], rounds: int) -> float:
    await run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(store: Store, rounds: int) -> dict[str, float]:
    head, second = await next_jobs(store)
    figures = {
        "the pick": await median_ms(lambda: store.claim_slot(second, SLOTS, 3_000.0), rounds),
        "the tick's wake": await median_ms(lambda: store.wake_queue(SLOTS, 3_000.0, SHOWN), rounds),
    }

    async def pick_and_claim() -> None:
        head, _ = await next_jobs_fast(store)
        assert await store.claim_slot(head, SLOTS, 3_000.0)
        await store.update_job(head, state=JobState.QUEUED, submitted_at=None)

    figures["pick and claim"] = await median_ms(pick_and_claim, max(10, rounds // 4))
    assert head.state in WAITING_STATES
    return figures


async def next_jobs_fast(store: Store) -> tuple[Job, None]:
    """The job whose turn it is, found as the bot finds it: its place is 1."""
    [party] = turns(await store.line_parties_next(1), 1)
    job = await store.first_in_line(party)
    assert job is not None
    return job, None


async def run_engine(name: str, url_of: Callable[[str], Awaitable[str]], rounds: int) -> bool:
    results: dict[str, dict[str, float]] = {}
    for label, waiting, people in (("10 waiting, 5 people", 10, 5), ("10,000 waiting, 500 people", 10_000, 500)):
        url = await url_of(label)
        store = await Store.open(url)
        started = time.perf_counter()
        try:
            await fill(store, waiting, people)
        finally:
            await store.close()  # as after a restart: SQLite's log checkpointed into the database
        print(f"{name}: {label}: filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        store = await Store.open(url)
        try:
            results[label] = await measure(store, rounds)
        finally:
            await store.close()
    short, long = results.values()
    print(f"\n{name}          {'10 waiting':>12} {'10,000 waiting':>16} {'ratio':>7}")
    ok = True
    for figure in short:
        ratio = long[figure] / short[figure]
        within = ratio <= GOAL
        ok = ok and (within or figure != "the pick")
        print(
            f"  {figure:<16} {short[figure]:>9.3f} ms {long[figure]:>13.3f} ms {ratio:>6.2f}x {'ok' if within else ''}"
        )
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as directory:

        async def sqlite_url(label: str) -> str:
            return f"sqlite:///{Path(directory) / (label.split()[0].replace(',', '') + '.db')}"

        ok = await run_engine("SQLite", sqlite_url, args.rounds) and ok
    postgres = os.environ.get("VIDEOBOT_BENCH_POSTGRES_URL") or os.environ.get("VIDEOBOT_TEST_POSTGRES_URL")
    if postgres:
        created: list[str] = []

        async def postgres_url(label: str) -> str:
            name = f"videobot_fair_line_{len(created)}_{os.getpid()}"
            created.append(name)
            await postgres_admin(postgres, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
            return f"{postgres.rpartition('/')[0]}/{name}"

        try:
            ok = await run_engine("PostgreSQL", postgres_url, args.rounds) and ok
        finally:
            await postgres_admin(postgres, *(f'DROP DATABASE IF EXISTS "{name}"' for name in created))
    print(f"\nGoal: the pick with 10,000 waiting within {GOAL:g}x of the pick with 10: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
