"""A day's report as numbers: a pure function of the stored jobs, so totals are tested without a clock."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.job import TERMINAL_STATES, Decision, Job, JobState
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
    failed: int  # failed, unknown or cancelled; not those an approver denied or nobody approved in time
    running: int  # not those awaiting approval
    by_state: Mapping[str, int]
    cost_micros: int  # Perf's charged cost where known, else the estimate; 0 for jobs that never reached Perf
    people: tuple[PersonUsage, ...]  # most expensive first
    busiest_model: str | None
    channels: int
    not_approved: int = 0  # denied, or nobody approved them in time: they never ran, so they did not fail
    awaiting_approval: int = 0


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
    not_approved = sum(1 for job in jobs if job.approval in (Decision.DENIED, Decision.EXPIRED))
    failed = sum(by_state[s.value] for s in (JobState.FAILED, JobState.UNKNOWN, JobState.CANCELLED)) - not_approved
    delivered = by_state[JobState.DELIVERED.value]
    awaiting = by_state[JobState.AWAITING_APPROVAL.value]
    return DayReport(
        day=day,
        jobs=len(jobs),
        delivered=delivered,
        failed=failed,
        running=sum(1 for job in jobs if job.state not in TERMINAL_STATES) - awaiting,
        by_state=dict(by_state),
        cost_micros=sum(job.cost_micros for job in jobs if job.holds_quota),
        people=people,
        busiest_model=busiest,
        channels=len({job.channel_id for job in jobs}),
        not_approved=not_approved,
        awaiting_approval=awaiting,
    )


def due_report_day(now: float, timezone: str, report_time: tuple[int, int]) -> Day:
    """The day whose report is due most recently: yesterday once today's report time has passed."""
    today = day_of(now, timezone)
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    report_moment = local.replace(hour=report_time[0], minute=report_time[1], second=0, microsecond=0)
    yesterday = previous_day(today, timezone)
    return yesterday if local >= report_moment else previous_day(yesterday, timezone)
