"""Admissions: a job joins the account, its quota checked and its place in line numbered in the same
transaction, with the admissions asked for at the same moment sharing that transaction (group commit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from bot.domain.job import Job
from bot.domain.quotas import ChannelLimits, Usage
from storage.base import StoreBase
from storage.engine import Engine, Result, Statement
from storage.groups import GroupCommit
from storage.rows import INSERTED_COLUMNS, to_db
from storage.sql import count_changes, in_list, insert_rows
from storage.usage import CHANNEL_LIMITS_SQL, CHANNEL_USAGE_SQL, USER_USAGE_SQL, channel_limits_from_row

_Day = tuple[float, float]  # a day's start and end
# The end of the line: the last arrival, through the unique index jobs_arrival.
LAST_ARRIVAL_SQL = "SELECT COALESCE(MAX(arrival), 0) FROM jobs"
# The group's new ids that some job already has (ids of one hour share a prefix): by the primary key.
IDS_TAKEN_SQL = "SELECT id FROM jobs WHERE id IN ({})"


class JobIdTaken(Exception):
    """The new job's id is already some job's (ids of one hour share their first characters): draw again."""


@dataclasses.dataclass(frozen=True)
class _Admission:
    job: Job
    trigger: str | None
    day: _Day | None
    check: Callable[[Usage, ChannelLimits | None], None] | None


@dataclasses.dataclass(frozen=True)
class _Reads:
    """What a group reads before deciding, each thing once, and where each answer is in the results."""

    statements: list[Statement]
    triggers: bool  # the third result holds the group's triggers already taken (the second, their ids taken)
    usage_at: list[tuple[_Day, int]]  # each day and where its two usage reads (channels, people) start
    limits: bool  # the last result holds the channels' own limits

    @classmethod
    def of(cls, group: Sequence[_Admission]) -> _Reads:
        checked = [a for a in group if a.check is not None]
        triggers = list(dict.fromkeys(a.trigger for a in group if a.trigger is not None))
        days = list(dict.fromkeys(a.day for a in checked if a.day is not None))
        channels = list(dict.fromkeys(a.job.channel_id for a in checked))
        reads: list[Statement] = [
            (LAST_ARRIVAL_SQL, ()),
            in_list(IDS_TAKEN_SQL, list(dict.fromkeys(a.job.id for a in group))),
        ]
        if triggers:
            reads.append(in_list("SELECT trigger FROM job_triggers WHERE trigger IN ({})", triggers))
        usage_at: list[tuple[_Day, int]] = []
        for day in days:
            on_day = [a for a in checked if a.day == day]
            usage_at.append((day, len(reads)))
            reads.append(in_list(CHANNEL_USAGE_SQL, list(dict.fromkeys(a.job.channel_id for a in on_day)), *day))
            reads.append(in_list(USER_USAGE_SQL, list(dict.fromkeys(a.job.user_id for a in on_day)), *day))
        if channels:
            reads.append(in_list(CHANNEL_LIMITS_SQL, channels))
        return cls(reads, bool(triggers), usage_at, bool(channels))


@dataclasses.dataclass
class _Ledger:
    """Usage as the reads saw it, then with each job this group admits added, so later ones count it."""

    last_arrival: int
    ids_taken: set[str]
    triggers_taken: set[str]
    limits: dict[str, ChannelLimits]
    channel_used: dict[tuple[str, _Day], tuple[int, int]] = dataclasses.field(default_factory=dict)
    user_used: dict[tuple[str, _Day], int] = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, reads: _Reads, found: Sequence[Result]) -> _Ledger:
        ledger = cls(
            last_arrival=int(found[0].rows[0][0]),
            ids_taken={row[0] for row in found[1].rows},
            triggers_taken={row[0] for row in found[2].rows} if reads.triggers else set(),
            limits={row[4]: channel_limits_from_row(row) for row in found[-1].rows} if reads.limits else {},
        )
        for day, at in reads.usage_at:
            ledger.channel_used |= {(row[0], day): (int(row[1]), int(row[2])) for row in found[at].rows}
            ledger.user_used |= {(row[0], day): int(row[1]) for row in found[at + 1].rows}
        return ledger

    def decide(self, admission: _Admission) -> bool | BaseException:
        """The admission's outcome, as if it had its own transaction after the group's earlier ones."""
        job = admission.job
        if job.id in self.ids_taken:
            return JobIdTaken(job.id)
        if admission.trigger in self.triggers_taken:
            return False
        if admission.check is not None:
            assert admission.day is not None
            channel_key, user_key = (job.channel_id, admission.day), (job.user_id, admission.day)
            channel_jobs, channel_cost = self.channel_used.get(channel_key, (0, 0))
            usage = Usage(channel_jobs, channel_cost, self.user_used.get(user_key, 0))
            try:
                admission.check(usage, self.limits.get(job.channel_id))
            except Exception as exc:
                return exc
            self.channel_used[channel_key] = (channel_jobs + 1, channel_cost + job.estimated_cost_micros)
            self.user_used[user_key] = usage.user_jobs + 1
        if admission.trigger is not None:
            self.triggers_taken.add(admission.trigger)
        self.ids_taken.add(job.id)
        return True


def _admission_writes(admitted: Sequence[_Admission], first_arrival: int) -> list[Statement]:
    """A group's admitted jobs, their triggers and first events, as one multi-row INSERT for each table.

    The jobs take their places in line in the group's order, from `first_arrival` on: admissions are
    serialised, so nobody else numbers a job meanwhile (and a unique index would refuse a clash)."""
    jobs, events, triggers = [], [], []
    for arrival, admission in enumerate(admitted, start=first_arrival):
        job, trigger = admission.job, admission.trigger
        jobs.append([*(to_db(c, getattr(job, c)) for c in INSERTED_COLUMNS), arrival])
        events.append((job.id, job.created_at, job.state.value, f"stored trigger={trigger}" if trigger else "stored"))
        if trigger is not None:
            triggers.append((trigger, job.id, job.created_at))
    writes = insert_rows("jobs", (*INSERTED_COLUMNS, "arrival"), jobs)
    writes += insert_rows("job_triggers", ("trigger", "job_id", "at"), triggers)
    writes += insert_rows("job_events", ("job_id", "at", "state", "detail"), events)
    counted = [(a.job.state.value, 1, int(a.job.perf_job_id is not None)) for a in admitted]
    return writes + count_changes(counted)


class AdmissionQueries(StoreBase):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._admissions: GroupCommit[_Admission, bool] = GroupCommit(self._admit)

    async def insert_job(
        self,
        job: Job,
        *,
        trigger: str | None = None,
        day: tuple[float, float] | None = None,
        check: Callable[[Usage, ChannelLimits | None], None] | None = None,
    ) -> bool:
        """Store a new job. With `trigger`, only if that trigger never started a job: False if it did.

        With `check`, the usage of the job's channel and person during `day`, and the channel's own
        limits, are read in the same transaction and handed to it; if it raises, nothing is stored and
        the error reaches the caller. Check and reservation are one admission, serialised across
        processes, so a burst of commands cannot overshoot a quota, nor slip past a limit changed
        meanwhile. Admissions asked for together share one transaction (group commit).
        """
        if check is not None and day is None:
            raise ValueError("a quota check needs the day it counts")
        return await self._admissions.submit(_Admission(job, trigger, day, check))

    async def _admit(self, group: Sequence[_Admission]) -> list[bool | BaseException]:
        """One transaction for a group of admissions, decided in order as if each had its own.

        Two batches whatever the group's size: what to check, each thing read once (the line's end, the
        triggers, each channel's and person's usage of a day, the channels' own limits), then one multi-row
        INSERT a table. On SQLite that is two hand-overs to the database thread for a whole burst of
        commands; on PostgreSQL a handful of round trips instead of four an admission."""
        reads = _Reads.of(group)
        async with self._engine.transaction(admission=True) as db:
            ledger = _Ledger.read(reads, await db.batch(*reads.statements))
            outcomes = [ledger.decide(admission) for admission in group]
            admitted = [a for a, outcome in zip(group, outcomes, strict=True) if outcome is True]
            if not admitted:
                return outcomes
            await db.batch(*_admission_writes(admitted, ledger.last_arrival + 1), commit=True)
        for arrival, admission in enumerate(admitted, start=ledger.last_arrival + 1):
            admission.job.arrival = arrival
        return outcomes
