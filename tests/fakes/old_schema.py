"""A database at schema 7 (before `arrival`), filled in bulk: for the numbering test and bench/migrations.py."""

from __future__ import annotations

from storage.engine import Engine
from storage.schema import MIGRATIONS

# Migration 8 as it shipped: each job's arrival is the number of jobs at or before it in (created_at, id).
SHIPPED_ARRIVALS = (
    "SELECT id, (SELECT COUNT(*) FROM jobs AS earlier WHERE earlier.created_at < jobs.created_at "
    "OR (earlier.created_at = jobs.created_at AND earlier.id <= jobs.id)) FROM jobs"
)

# A prime above any count built here: i * 7919 mod it is unique per i, so ids sort in no relation to time.
_SCATTER = 1_000_003


async def schema_7_with_jobs(engine: Engine, count: int) -> None:
    """Schema 7 and `count` jobs, three to a created_at instant (ties broken by id), in one statement."""
    if count >= _SCATTER:
        raise ValueError(f"at most {_SCATTER - 1} jobs")
    await engine.migrate(MIGRATIONS[:7])
    async with engine.transaction() as db:
        await db.execute(
            "INSERT INTO jobs (id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution, "
            "aspect_ratio, estimated_cost_micros, state, created_at, updated_at) "
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "SELECT 'vb_' || CAST((CAST(i AS BIGINT) * 7919) % 1000003 AS TEXT), 'T0001', 'C' || CAST(i % 50 AS TEXT), "
            "'U' || CAST(i % 2000 AS TEXT), 'a heron at dawn', 'pika', '4', '1080p', '16:9', 268000, "
            "CASE WHEN i % 100 = 0 THEN 'queued' ELSE 'delivered' END, 1700000000 + i / 3, 1700000000 + i / 3 "
            "FROM n",
            count,
        )
