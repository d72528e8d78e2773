"""Jobs as the bot stores them, for tests and benches that seed the database directly."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.domain.job import Job, JobState, new_job_id

if TYPE_CHECKING:
    from storage.db import Store

CHANNEL = "C0DESIGN"
USER = "UALICE01"

# Ids are 7 random characters within the hour: seeding tens of thousands of jobs into a few hours draws the same id
# about once in a thousand runs. The bot draws again on `JobIdTaken`; seeding does it here, before the insert.
_ids_given: set[str] = set()


def _unused_job_id(created_at: float) -> str:
    while (job_id := new_job_id(created_at)) in _ids_given:
        pass
    _ids_given.add(job_id)
    return job_id


def stored_job(*, created_at: float = 1.0, **fields: Any) -> Job:
    """A 4 s pika job in #design by alice, just accepted; pass whatever the test looks at."""
    values: dict[str, Any] = {
        "id": _unused_job_id(created_at),
        "team_id": "T0001",
        "channel_id": CHANNEL,
        "user_id": USER,
        "prompt": "p",
        "model": "pika",
        "duration_seconds": Decimal(4),
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "estimated_cost_micros": 268_000,
        "state": JobState.ACCEPTED,
        "created_at": created_at,
        "updated_at": created_at,
    }
    values.update(fields)
    return Job(**values)


def delivered_yesterday(n: int, now: float, **fields: Any) -> Job:
    """The n-th of yesterday's delivered $0.30 jobs: what makes a daily report due when the bot starts."""
    values: dict[str, Any] = {
        "state": JobState.DELIVERED,
        "perf_job_id": f"job_y{n}",
        "perf_cost_micros": 300_000,
        "finalized": True,
    }
    values.update(fields)
    return stored_job(created_at=now - 86_400 + n, **values)


async def seed_delivered(store: Store, count: int, start: float, *, step: float = 1.0) -> None:
    """`count` delivered veo-3 jobs, `step` seconds apart from `start`, stored as the bot stores them."""
    for first in range(0, count, 500):
        jobs = [
            stored_job(
                created_at=start + (first + n) * step,
                model="veo-3",
                estimated_cost_micros=2_800_000,
                perf_cost_micros=2_450_000,
                perf_job_id=f"job_{start:.0f}_{first + n}",
                state=JobState.DELIVERED,
            )
            for n in range(min(500, count - first))
        ]
        await asyncio.gather(*(store.insert_job(job) for job in jobs))
