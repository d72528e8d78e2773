"""Why a burst's acks cost more on a year of history: counts that a busy machine does not change.

    python -m bench.history_probe                  # strace: SQLite's reads, writes, syncs and waits per burst
    python -m bench.history_probe --tool py-spy    # where the bot's threads spend a burst (sampled stacks)
    python -m bench.history_probe --postgres       # the same bot on PostgreSQL: round trips per burst
    python -m bench.history_probe --postgres --tool locks   # PostgreSQL's lock waits, sampled (below)

Runs `videobot run` on the last two days alone and on the year (bench/history_db.py's caches, a copy for
SQLite), sends bench/history.py's burst (200 `/video` 50 at a time) with and without `/metrics` scraped
back to back, and attaches the tool to the bot for the burst's acks only (from the first command to the
last ack). Timings under strace or py-spy mean nothing; the counts are what this reads:

- strace: per file, `pread64` of the database (pages SQLite's cache did not hold), `pwrite64` of the
  database (pages a checkpoint copied back) and of the `-wal` (frames: a header and a page each), the
  syncs, the `fcntl` locks and the sleeps (SQLite's busy handler sleeps when a lock is taken), and on
  PostgreSQL the socket writes (round trips).
- py-spy: the share of samples in each thread's innermost frames (with `--native`, SQLite's own
  functions: a checkpoint shows as `sqlite3WalCheckpoint`, a busy wait as `sqliteDefaultBusyCallback`).
- locks (PostgreSQL): pg_stat_activity and pg_locks sampled back to back from a connection of its own: in
  how many samples some backend of the bot waits on a lock (and on which: the admission's advisory lock, a
  row's transaction), how many of those wait behind a transaction "idle in transaction" (its connection
  waiting for the bot's event loop to send the next statement), and how often the admission lock is held
  by such an idle transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench.history import RECENT_DAYS, SCRAPE_EVERY, recent_jobs, shared
from bench.history_db import build_postgres, build_sqlite, fill_postgres, fill_sqlite, postgres_admin, sqlite_end
from bench.run import Fakes, bot_env, send_commands, started_bot, until_idle
from tests.fakes.process import wait_for

_CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>)(?:(\d+)<([^>]*)>)?")


@contextlib.asynccontextmanager
async def attached(tool: str, pid: int, out: Path) -> AsyncIterator[None]:
    if tool == "strace":
        calls = "pread64,pwrite64,fsync,fdatasync,fcntl,nanosleep,clock_nanosleep,sendto,write,writev"
        command = ["strace", "-f", "-qq", "-y", "-T", "-e", f"trace={calls}", "-o", str(out), "-p", str(pid)]
    else:
        command = ["py-spy", "record", "-p", str(pid), "--threads", "--idle", "--native", "-r", "100"]
        command += ["-f", "raw", "-o", str(out)]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(1.0)  # attached to every thread before the burst starts
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        said = (await proc.stderr.read()).decode(errors="replace").strip()
        if await proc.wait() and said:
            print(f"  ({tool}: {said[-300:]})", file=sys.stderr)


# One row a backend of the bot's database: what it waits on, whether it holds the admission lock, and the
# states of the backends that block it.
_ACTIVITY_SQL = """
SELECT a.state, a.wait_event_type, a.wait_event,
       EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted),
       ARRAY(SELECT b.state FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid)))
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
"""


@contextlib.asynccontextmanager
async def sampled_locks(url: str, counts: collections.Counter[str]) -> AsyncIterator[None]:
    """Samples of the database's backends, back to back, while the block runs, counted into `counts`."""
    import asyncpg

    db = await asyncpg.connect(url)
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            rows = await db.fetch(_ACTIVITY_SQL)
            counts["samples"] += 1
            waiting = [row for row in rows if row[1] == "Lock"]
            idle_holder = any(row[3] and row[0] == "idle in transaction" for row in rows)
            counts["the admission lock held"] += any(row[3] for row in rows)
            counts["the admission lock held, idle in transaction"] += idle_holder
            if waiting:
                counts["a backend waits on a lock"] += 1
                counts["  behind one idle in transaction"] += any("idle in transaction" in row[4] for row in waiting)
                for kind in sorted({str(row[2]) for row in waiting}):
                    counts[f"  on {kind}"] += 1
                counts["backends waiting (summed over samples)"] += len(waiting)
            await asyncio.sleep(0.002)

    task = asyncio.get_running_loop().create_task(sample())
    try:
        yield
    finally:
        done.set()
        await task
        await db.close()


def strace_counts(out: Path, database: str, postgres_port: str = "5432") -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    name = Path(database).name if database else ""
    for line in out.read_text(errors="replace").splitlines():
        found = _CALL.match(line)
        if not found:
            continue
        call, path = found.group(2), found.group(4) or ""
        spent = re.search(r"<(\d+\.\d+)>$", line)
        if spent and call in ("fsync", "fdatasync", "fcntl"):
            counts[f"ms in {call}"] += round(float(spent.group(1)) * 1000)
        if "resumed" in line:
            continue  # counted at its start
        if call in ("pread64", "pwrite64", "fsync", "fdatasync", "fcntl"):
            if path.endswith("-wal"):
                counts[f"{call} -wal"] += 1
            elif path.endswith("-shm"):
                counts[f"{call} -shm"] += 1
            elif name and path.endswith(name):
                counts[f"{call} db"] += 1
        elif call in ("nanosleep", "clock_nanosleep"):
            counts["sleeps"] += 1
        elif (
            call in ("sendto", "write", "writev")
            and ("TCP" in path or "socket" in path)
            and f":{postgres_port}]" in line
        ):
            counts["postgres sends"] += 1
        elif call in ("sendto", "write", "writev") and ("TCP" in path or "socket" in path):
            counts["socket writes"] += 1
    return dict(counts)


def pyspy_counts(out: Path, top: int = 12) -> list[tuple[str, int]]:
    """The innermost interesting frame of each sample, counted."""
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0]
        interesting = [f for f in frames if "sqlite3" in f.lower() or "wal" in f.lower() or ".py" in f]
        leaf = interesting[-1] if interesting else frames[-1]
        leaf = re.sub(r"\s*\(.*?/site-packages/", " (", leaf)
        leaves[f"{thread[:30]} | {leaf[:110]}"] += int(count)
        total += int(count)
    return [("total samples", total), *leaves.most_common(top)]


def _wal_pages(sqlite_file: str) -> int:
    """How long the write-ahead log is: frames of a 24-byte header and a 4 kB page (0: not SQLite)."""
    wal = Path(f"{sqlite_file}-wal")
    return wal.stat().st_size // 4120 if sqlite_file and wal.exists() else 0


async def _counted_scrapes(url: str, scrapes: list[int]) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/metrics") as response:
                await response.read()
            scrapes[0] += 1
            await asyncio.sleep(SCRAPE_EVERY)


async def probe(fakes: Fakes, database: str, workdir: Path, tool: str, label: str, sqlite_file: str) -> None:
    port = str(urlsplit(database).port or 5432) if database.startswith("postgres") else ""
    bot = await started_bot(bot_env(fakes, workdir, database, VIDEOBOT_METRICS="1"), workdir)
    try:
        await send_commands(bot.url, 20, 20, f"Warm-up {label}")
        await until_idle(bot.pid)
        for scrape in (False, True):
            kind = "scraped" if scrape else "quiet"
            before = fakes.videos_shared()
            out = workdir / f"{label}-{kind}.{tool}"
            scrapes = [0]
            scraper = asyncio.create_task(_counted_scrapes(bot.health_url, scrapes)) if scrape else None
            locks: collections.Counter[str] = collections.Counter()
            watching = sampled_locks(database, locks) if tool == "locks" else attached(tool, bot.pid, out)
            async with watching:
                await send_commands(bot.url, 200, 50, f"Probe {label} {kind}", warm_up=True)
            if scraper is not None:
                scraper.cancel()
            wal_pages = _wal_pages(sqlite_file)
            print(f"\n{label}, {kind} burst ({tool}), {scrapes[0]} scrapes, the log {wal_pages} pages long after it:")
            if tool == "locks":
                for key, value in locks.items():
                    print(f"  {key}: {value}")
            elif tool == "strace":
                for key, value in sorted(strace_counts(out, sqlite_file, port).items()):
                    print(f"  {key}: {value}")
            else:
                for key, value in pyspy_counts(out):
                    print(f"  {value:6d}  {key}")
            await wait_for(shared(fakes, before + 250), within=300, what="the burst's videos")
            await until_idle(bot.pid, within=120)
    finally:
        await bot.terminate()


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-probe-"))
    try:
        with Fakes() as fakes:
            if args.postgres:
                base = os.environ.get("VIDEOBOT_BENCH_POSTGRES_URL") or os.environ["VIDEOBOT_TEST_POSTGRES_URL"]
                full = await build_postgres(base, args.jobs)
                end = await _postgres_end(full)
                root, _, _ = base.rpartition("/")
                full_name = full.rpartition("/")[2]
                await postgres_admin(base, 'DROP DATABASE IF EXISTS "videobot_probe_full"')
                await postgres_admin(base, f'CREATE DATABASE "videobot_probe_full" TEMPLATE "{full_name}"')
                empty = await fill_postgres(base, "videobot_probe_recent", recent_jobs(args.jobs), end, RECENT_DAYS)
                try:
                    await probe(fakes, empty, workdir, args.tool, "2 days", "")
                    await probe(fakes, f"{root}/videobot_probe_full", workdir, args.tool, "a year", "")
                finally:
                    await postgres_admin(
                        base,
                        'DROP DATABASE IF EXISTS "videobot_probe_full"',
                        'DROP DATABASE IF EXISTS "videobot_probe_recent"',
                    )
                return
            full_path = await build_sqlite(args.jobs)
            end = sqlite_end(full_path)
            await fill_sqlite(workdir / "recent.db", recent_jobs(args.jobs), end, RECENT_DAYS)
            copy = workdir / "full.db"
            shutil.copyfile(full_path, copy)
            await probe(
                fakes, f"sqlite:///{workdir / 'recent.db'}", workdir, args.tool, "2 days", str(workdir / "recent.db")
            )
            await probe(fakes, f"sqlite:///{copy}", workdir, args.tool, "a year", str(copy))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _postgres_end(url: str) -> float:
    from bench.history_db import postgres_end

    return await postgres_end(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--tool", choices=("strace", "py-spy", "locks"), default="strace")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (VIDEOBOT_BENCH_POSTGRES_URL)")
    asyncio.run(main_async(parser.parse_args()))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
