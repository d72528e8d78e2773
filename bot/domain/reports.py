"""A day's report as numbers: a pure function of the stored jobs, so totals are tested without a clock."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.job import TERMINAL_STATES, Job, JobState
from bot.domain.quotas import Day, day_of, previous_day


@dataclass(frozen=True)
class PersonUsage:
    user_id: str
    jobs: int
    cost_micros: int


@dataclass(frozen=True)
class DayReport:
    day: str
    jobs: int
    delivered: int
    failed: int  # failed, unknown or cancelled
    running: int
    by_state: Mapping[str, int]
    cost_micros: int  # Perf's charged cost where known, else the estimate; 0 for jobs that never reached Perf
    people: tuple[PersonUsage, ...]  # most expensive first
    busiest_model: str | None
    channels: int


def summarize(jobs: Iterable[Job], day: str) -> DayReport:
    jobs = list(jobs)
    by_state = collections.Counter(job.state.value for job in jobs)
    per_person: dict[str, list[int]] = {}
    for job in jobs:
        entry = per_person.setdefault(job.user_id, [0, 0])
        entry[0] += 1
        entry[1] += job.cost_micros if job.holds_quota else 0
    people = tuple(
        sorted(
            (PersonUsage(user, count, cost) for user, (count, cost) in per_person.items()),
            key=lambda p: (-p.cost_micros, -p.jobs, p.user_id),
        )
    )
    models = collections.Counter(job.model for job in jobs)
    busiest = min(models, key=lambda m: (-models[m], m)) if models else None
    failed = sum(by_state[s.value] for s in (JobState.FAILED, JobState.UNKNOWN, JobState.CANCELLED))
    delivered = by_state[JobState.DELIVERED.value]
    return DayReport(
        day=day,
        jobs=len(jobs),
        delivered=delivered,
        failed=failed,
        running=sum(1 for job in jobs if job.state not in TERMINAL_STATES),
        by_state=dict(by_state),
        cost_micros=sum(job.cost_micros for job in jobs if job.holds_quota),
        people=people,
        busiest_model=busiest,
        channels=len({job.channel_id for job in jobs}),
    )


def due_report_day(now: float, timezone: str, report_time: tuple[int, int]) -> Day:
    """The day whose report is due most recently: yesterday once today's report time has passed."""
    today = day_of(now, timezone)
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    report_moment = local.replace(hour=report_time[0], minute=report_time[1], second=0, microsecond=0)
    yesterday = previous_day(today, timezone)
    return yesterday if local >= report_moment else previous_day(yesterday, timezone)
