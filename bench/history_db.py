"""A year of a busy workspace's history, built once and cached, for bench/history.py.

1,000,000 finished jobs (9 job_events each) over 365 days ending when it was built, 50 channels (the
heaviest holds 18.6% of the jobs, ~186k), 2,000 people. The rows are made by the database itself from a
recursive CTE (SQLite) or generate_series (PostgreSQL), at schema version `BUILT_AT`, then the bot's own
migrations bring it up to date: a million inserts through the bot would take hours, and the later
migrations' backfills are measured on the way.

The SQL here writes a fixture, not the bot's data: it is the one place outside `storage/` with SQL, and it
only ever runs against a bench database.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
import time
from pathlib import Path

from storage.connect import open_engine
from storage.db import MIGRATIONS
from storage.engine import Engine

# The schema the rows below are written for; later migrations run over them as over a real database.
BUILT_AT = 9
CHANNELS = 50
PEOPLE = 2_000
DAYS = 365
HEAVY_SHARE = 186  # per thousand jobs, in channel C000

# What the rows look like; a change here builds the caches again.
FIXTURE_VERSION = 2


def _job_id_sql() -> str:
    """Job `i`'s id, spelt like the bot's ids: ten characters of its alphabet in no order of arrival, so a
    year's ids fill the id index (and job_events' index by job) everywhere, as the shipped random ids did.
    The first six characters are `i` times a constant coprime to 31 modulo 31^6: distinct for every `i`."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    spread = "((i * 2654435761) % 887503681)"
    rest = "((i * 40503) % 923521)"
    digits = [f"substr('{alphabet}', CAST(1 + ({spread} / {31**k}) % 31 AS INTEGER), 1)" for k in range(6)]
    digits += [f"substr('{alphabet}', CAST(1 + ({rest} / {31**k}) % 31 AS INTEGER), 1)" for k in range(4)]
    return "'vb_' || " + " || ".join(digits)


# `i` numbers the jobs in arrival order; `:jobs`, `:end` and `:span` (the seconds they spread over) are
# bound. Every channel but C000 shares the rest evenly; finished states as a year of them looks: mostly
# delivered, a few failed, unknown, cancelled.
_JOB_VALUES = f"""
    {_job_id_sql()}, 'T0001',
    CASE WHEN i % 1000 < {HEAVY_SHARE} THEN 'C000' ELSE 'C' || printf('%03d', 1 + (i * 13) % {CHANNELS - 1}) END,
    'U' || printf('%04d', (i * 7919) % {PEOPLE}),
    'a slow pan over a harbour at dawn, gulls, film grain, job ' || i, 'pika', '5', '720p', '16:9', 250000,
    CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 95 THEN 'failed'
         WHEN i % 100 < 97 THEN 'unknown' ELSE 'cancelled' END,
    :end - (:jobs - i) * :span / :jobs, :end - (:jobs - i) * :span / :jobs + 95,
    'https://hooks.slack.test/commands/' || i, '1700000000.' || printf('%08d', i),
    CASE WHEN i % 100 < 97 THEN 'perf_' || i END,
    CASE WHEN i % 100 < 97 THEN 240000 END, i
"""
_JOB_COLUMNS = (
    "id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution, aspect_ratio, "
    "estimated_cost_micros, state, created_at, updated_at, response_url, root_ts, perf_job_id, "
    "perf_cost_micros, arrival"
)
_STEPS = ("stored", "root posted", "submitting", "submitted", "pending", "processing", "complete", "uploaded", "done")


def cache_dir() -> Path:
    return Path(os.environ.get("VIDEOBOT_BENCH_CACHE", Path.home() / ".cache" / "videobot-bench"))


def schema_key() -> str:
    """The schema version a database ends at, and a digest of the migrations' text: a new or an edited
    migration (while it is being written) builds it again."""
    digest = hashlib.sha256("\n".join(MIGRATIONS).encode()).hexdigest()[:8]
    return f"v{len(MIGRATIONS)}-{digest}-f{FIXTURE_VERSION}"


def sqlite_path(jobs: int) -> Path:
    return cache_dir() / f"history-{schema_key()}-{jobs}.db"


def _sqlite_rows(path: Path, jobs: int, end: float, days: float) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    # A fixture: nothing is lost if the build dies half-way, it is simply built again.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    db.execute("BEGIN")
    db.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :jobs) "
        f"INSERT INTO jobs ({_JOB_COLUMNS}) SELECT {_JOB_VALUES} FROM n",
        {"jobs": jobs, "end": end, "span": days * 86400.0},
    )
    steps = " UNION ALL ".join(f"SELECT {k} AS k, '{step}' AS step" for k, step in enumerate(_STEPS))
    db.execute(
        f"INSERT INTO job_events (job_id, at, state, detail) SELECT jobs.id, jobs.created_at + steps.k * 10, "
        f"CASE WHEN steps.k < 8 THEN 'accepted' ELSE jobs.state END, steps.step || ' ' || jobs.id "
        f"FROM jobs CROSS JOIN ({steps}) AS steps ORDER BY jobs.arrival, steps.k"
    )
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


async def _migrated(url: str, upto: int | None) -> Engine:
    engine = await open_engine(url)
    await engine.migrate(MIGRATIONS[:upto] if upto else MIGRATIONS)
    return engine


async def build_sqlite(jobs: int) -> Path:
    """The cached database of `jobs` finished jobs over a year, built first if there is none."""
    path = sqlite_path(jobs)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    await fill_sqlite(partial, jobs, time.time(), DAYS)
    partial.rename(path)
    return path


async def fill_sqlite(path: Path, jobs: int, end: float, days: float) -> None:
    """`jobs` finished jobs spread over the `days` before `end`, in a new database at `path`."""
    started = time.monotonic()
    await (await _migrated(f"sqlite:///{path}", BUILT_AT)).close()
    await asyncio.to_thread(_sqlite_rows, path, jobs, end, days)
    rows_at = time.monotonic()
    await (await _migrated(f"sqlite:///{path}", None)).close()
    done = time.monotonic()
    print(
        f"built {path} ({jobs:,} jobs over {days:g} days) in {done - started:.0f} s (rows {rows_at - started:.0f} s, "
        f"migrations {BUILT_AT + 1}-{len(MIGRATIONS)} {done - rows_at:.1f} s)",
        file=sys.stderr,
    )


def sqlite_end(path: Path) -> float:
    """When the history in `path` ends: its last job's arrival."""
    with sqlite3.connect(path) as db:
        return float(db.execute("SELECT MAX(created_at) FROM jobs").fetchone()[0])


def _postgres_sql(jobs: int, end: float, days: float) -> list[str]:
    values = (
        _JOB_VALUES.replace("printf('%08d', i)", "lpad(i::text, 8, '0')")
        .replace("printf('%03d', 1 + (i * 13) % 49)", "lpad((1 + (i * 13) % 49)::text, 3, '0')")
        .replace("printf('%04d', (i * 7919) % 2000)", "lpad(((i * 7919) % 2000)::text, 4, '0')")
        .replace(":jobs", str(jobs))
        .replace(":end", repr(end))
        .replace(":span", repr(days * 86400.0))
    )
    steps = " UNION ALL ".join(f"SELECT {k} AS k, '{step}' AS step" for k, step in enumerate(_STEPS))
    return [
        f"INSERT INTO jobs ({_JOB_COLUMNS}) SELECT {values} FROM generate_series(1::bigint, {jobs}) AS n(i)",
        f"INSERT INTO job_events (job_id, at, state, detail) SELECT jobs.id, jobs.created_at + steps.k * 10, "
        f"CASE WHEN steps.k < 8 THEN 'accepted' ELSE jobs.state END, steps.step || ' ' || jobs.id "
        f"FROM jobs CROSS JOIN ({steps}) AS steps ORDER BY jobs.arrival, steps.k",
        "ANALYZE",
    ]


async def build_postgres(base_url: str, jobs: int) -> str:
    """A database `videobot_history_<schema key>_<jobs>` beside `base_url`'s, built if it is missing."""
    name = f"videobot_history_{schema_key().replace('-', '_')}_{jobs}"
    root, _, _ = base_url.rpartition("/")
    if not await postgres_exists(base_url, name):
        await fill_postgres(base_url, f"{name}_building", jobs, time.time(), DAYS)
        await postgres_admin(base_url, f'ALTER DATABASE "{name}_building" RENAME TO "{name}"')
    return f"{root}/{name}"


async def postgres_exists(base_url: str, name: str) -> bool:
    import asyncpg

    admin = await asyncpg.connect(base_url)
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


async def postgres_admin(base_url: str, *statements: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base_url)
    try:
        for sql in statements:
            await admin.execute(sql)
    finally:
        await admin.close()


async def fill_postgres(base_url: str, name: str, jobs: int, end: float, days: float) -> str:
    """A new database `name` beside `base_url`'s of `jobs` finished jobs over the `days` before `end`."""
    import asyncpg

    root, _, _ = base_url.rpartition("/")
    url = f"{root}/{name}"
    await postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    await (await _migrated(url, BUILT_AT)).close()
    db = await asyncpg.connect(url)
    try:
        for sql in _postgres_sql(jobs, end, days):
            await db.execute(sql)
    finally:
        await db.close()
    rows_at = time.monotonic()
    await (await _migrated(url, None)).close()
    print(
        f"built postgresql {name} ({jobs:,} jobs over {days:g} days) in {time.monotonic() - started:.0f} s "
        f"(migrations {BUILT_AT + 1}-{len(MIGRATIONS)} {time.monotonic() - rows_at:.1f} s)",
        file=sys.stderr,
    )
    return url


async def postgres_end(url: str) -> float:
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        return float(await db.fetchval("SELECT MAX(created_at) FROM jobs"))
    finally:
        await db.close()


if __name__ == "__main__":
    print(asyncio.run(build_sqlite(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
