"""Admissions: a job joins the account, its quota checked and its place in line numbered in the same
transaction, with the admissions asked for at the same moment sharing that transaction (group commit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from bot.domain.job import Job
from bot.domain.line import party_of
from bot.domain.quotas import ACCOUNT_WINDOW_SECONDS, ChannelLimits, Usage
from storage.base import StoreBase
from storage.engine import Engine, Result, Statement
from storage.groups import GroupCommit
from storage.rows import INSERTED_COLUMNS, to_db
from storage.spend import CHANNEL, USER, WORKSPACE, spend_of, spend_read, spend_statements
from storage.sql import count_changes, in_list, insert_rows, party_change, party_changes
from storage.usage import (
    ACCOUNT_USAGE_SQL,
    CHANNEL_LIMITS_SQL,
    CHANNEL_USAGE_SQL,
    USER_USAGE_SQL,
    channel_limits_from_row,
)

_Day = tuple[float, float]  # a day's start and end
# The end of the line: the last arrival, through the unique index jobs_arrival.
LAST_ARRIVAL_SQL = "SELECT COALESCE(MAX(arrival), 0) FROM jobs"
# The group's new ids that some job already has (ids of one hour share a prefix): by the primary key.
IDS_TAKEN_SQL = "SELECT id FROM jobs WHERE id IN ({})"
# The group's triggers that already started a job in their workspace; bound as the teams, then the triggers.
TRIGGERS_TAKEN_SQL = "SELECT team_id, trigger FROM job_triggers WHERE team_id IN ({}) AND trigger IN ({})"


class JobIdTaken(Exception):
    """The new job's id is already some job's (ids of one hour share their first characters): draw again."""


@dataclasses.dataclass(frozen=True)
class _Admission:
    job: Job
    trigger: str | None
    day: _Day | None
    check: Callable[[Usage, ChannelLimits | None], None] | None
    month: _Day | None = None  # the day starts of the job's month, for the monthly budgets
    count_account: bool = False  # read the account's jobs of the last 24 hours (VIDEOBOT_ACCOUNT_DAILY_JOBS)
    # Stored with `job`, all or none, and counted with it (the other takes of a comparison): same channel,
    # person and day.
    more: tuple[Job, ...] = ()

    @property
    def jobs(self) -> tuple[Job, ...]:
        return (self.job, *self.more)


_TeamDay = tuple[str, _Day]  # a workspace and a day (or a month) of it


@dataclasses.dataclass(frozen=True)
class _MoneyAt:
    """Where a group's reads of money start: per workspace and month its channels' and its own spend, per
    workspace and day its people's, then the account's jobs of the last 24 hours."""

    months: list[tuple[_TeamDay, int]]
    days: list[tuple[_TeamDay, int]]
    accounts: list[tuple[str, int]]  # each Perf key's line whose jobs are counted, and where its read is

    @classmethod
    def add(cls, checked: Sequence[_Admission], reads: list[Statement]) -> _MoneyAt:
        months, days = [], []
        for team, month in dict.fromkeys((a.job.team_id, a.month) for a in checked if a.month is not None):
            assert month is not None
            these = [a for a in checked if a.month == month and a.job.team_id == team]
            months.append(((team, month), len(reads)))
            reads.append(spend_read(team, CHANNEL, [a.job.channel_id for a in these], month))
            reads.append(spend_read(team, WORKSPACE, [""], month))
        for team, day in dict.fromkeys((a.job.team_id, a.day) for a in checked if a.day is not None):
            assert day is not None
            days.append(((team, day), len(reads)))
            reads.append(
                spend_read(team, USER, [a.job.user_id for a in checked if (a.job.team_id, a.day) == (team, day)], day)
            )
        accounts: list[tuple[str, int]] = []
        for line in dict.fromkeys(a.job.line for a in checked if a.count_account):
            since = min(a.job.created_at for a in checked if a.count_account and a.job.line == line)
            accounts.append((line, len(reads)))
            reads.append((ACCOUNT_USAGE_SQL, (line, since - ACCOUNT_WINDOW_SECONDS)))
        return cls(months, days, accounts)


@dataclasses.dataclass(frozen=True)
class _Reads:
    """What a group reads before deciding, each thing once, and where each answer is in the results."""

    statements: list[Statement]
    triggers: bool  # the third result holds the group's triggers already taken (the second, their ids taken)
    usage_at: list[tuple[_TeamDay, int]]  # each workspace's day and where its two usage reads (channels, people) start
    limits_at: list[int]  # where each workspace's read of its channels' own limits is
    money: _MoneyAt | None = None  # where the reads of budgets in money are (None: nothing is checked)

    @classmethod
    def of(cls, group: Sequence[_Admission]) -> _Reads:
        checked = [a for a in group if a.check is not None]
        triggers = list(dict.fromkeys((a.job.team_id, a.trigger) for a in group if a.trigger is not None))
        team_days = list(dict.fromkeys((a.job.team_id, a.day) for a in checked if a.day is not None))
        reads: list[Statement] = [
            (LAST_ARRIVAL_SQL, ()),
            in_list(IDS_TAKEN_SQL, list(dict.fromkeys(job.id for a in group for job in a.jobs))),
        ]
        if triggers:
            # Both keys' lists: the primary key (team_id, trigger) is searched for each pair; a pair that
            # matches only across (one team's trigger, another's team) is left out below.
            teams = list(dict.fromkeys(team for team, _ in triggers))
            names = list(dict.fromkeys(trigger for _, trigger in triggers))
            sql = TRIGGERS_TAKEN_SQL.format(", ".join("?" for _ in teams), ", ".join("?" for _ in names))
            reads.append((sql, (*teams, *names)))
        usage_at: list[tuple[_TeamDay, int]] = []
        for team, day in team_days:
            assert day is not None
            on_day = [a for a in checked if (a.job.team_id, a.day) == (team, day)]
            usage_at.append(((team, day), len(reads)))
            channels_used = list(dict.fromkeys(a.job.channel_id for a in on_day))
            reads.append(in_list(CHANNEL_USAGE_SQL, channels_used, team, *day))
            reads.append(in_list(USER_USAGE_SQL, list(dict.fromkeys(a.job.user_id for a in on_day)), team, *day))
        money = _MoneyAt.add(checked, reads) if checked else None
        limits_at: list[int] = []
        for team in dict.fromkeys(a.job.team_id for a in checked):
            limits_at.append(len(reads))
            channels = list(dict.fromkeys(a.job.channel_id for a in checked if a.job.team_id == team))
            reads.append(in_list(CHANNEL_LIMITS_SQL, channels, team))
        return cls(reads, bool(triggers), usage_at, limits_at, money)


@dataclasses.dataclass
class _Ledger:
    """Usage as the reads saw it, then with each job this group admits added, so later ones count it.

    Every key leads with the workspace: the same channel or person id in two workspaces counts apart."""

    last_arrival: int
    ids_taken: set[str]
    triggers_taken: set[tuple[str, str]]
    limits: dict[tuple[str, str], ChannelLimits]
    channel_used: dict[tuple[str, str, _Day], tuple[int, int]] = dataclasses.field(default_factory=dict)
    user_used: dict[tuple[str, str, _Day], int] = dataclasses.field(default_factory=dict)
    channel_month: dict[tuple[str, str, _Day], int] = dataclasses.field(default_factory=dict)
    workspace_month: dict[_TeamDay, int] = dataclasses.field(default_factory=dict)
    user_cost: dict[tuple[str, str, _Day], int] = dataclasses.field(default_factory=dict)
    # Per Perf key's line: its jobs of the last 24 hours, and when the oldest of them was made.
    account: dict[str, tuple[int, float]] = dataclasses.field(default_factory=dict)

    @classmethod
    def read(cls, reads: _Reads, found: Sequence[Result]) -> _Ledger:
        ledger = cls(
            last_arrival=int(found[0].rows[0][0]),
            ids_taken={row[0] for row in found[1].rows},
            triggers_taken={(str(row[0]), str(row[1])) for row in found[2].rows} if reads.triggers else set(),
            limits={
                (str(row[6]), str(row[4])): channel_limits_from_row(row)
                for at in reads.limits_at
                for row in found[at].rows
            },
        )
        for (team, day), at in reads.usage_at:
            ledger.channel_used |= {(team, row[0], day): (int(row[1]), int(row[2])) for row in found[at].rows}
            ledger.user_used |= {(team, row[0], day): int(row[1]) for row in found[at + 1].rows}
        if reads.money is not None:
            ledger._read_money(reads.money, found)
        return ledger

    def _read_money(self, at: _MoneyAt, found: Sequence[Result]) -> None:
        for (team, month), i in at.months:
            self.channel_month |= {(team, row[0], month): int(row[2]) for row in found[i].rows}
            self.workspace_month[(team, month)] = sum(int(row[2]) for row in found[i + 1].rows)
        for (team, day), i in at.days:
            self.user_cost |= {(team, row[0], day): int(row[2]) for row in found[i].rows}
        for line, i in at.accounts:
            [account] = found[i].rows
            self.account[line] = (int(account[0]), float(account[1]))

    def _usage(self, admission: _Admission) -> Usage:
        job, day, month = admission.job, admission.day, admission.month
        team = job.team_id
        assert day is not None
        channel_jobs, channel_cost = self.channel_used.get((team, job.channel_id, day), (0, 0))
        return Usage(
            channel_jobs,
            channel_cost,
            self.user_used.get((team, job.user_id, day), 0),
            user_cost_micros=self.user_cost.get((team, job.user_id, day), 0),
            channel_month_micros=self.channel_month.get((team, job.channel_id, month), 0) if month else 0,
            workspace_month_micros=self.workspace_month.get((team, month), 0) if month else 0,
            account_jobs=self.account.get(job.line, (0, 0.0))[0],
            account_oldest=self.account.get(job.line, (0, 0.0))[1] or job.created_at,
        )

    def _count(self, admission: _Admission, usage: Usage) -> None:
        """What the admitted job adds, for the group's later admissions to count."""
        job, day, month = admission.job, admission.day, admission.month
        team = job.team_id
        cost, count = sum(j.estimated_cost_micros for j in admission.jobs), len(admission.jobs)
        assert day is not None
        self.channel_used[(team, job.channel_id, day)] = (usage.channel_jobs + count, usage.channel_cost_micros + cost)
        self.user_used[(team, job.user_id, day)] = usage.user_jobs + count
        self.user_cost[(team, job.user_id, day)] = usage.user_cost_micros + cost
        if month is not None:
            self.channel_month[(team, job.channel_id, month)] = usage.channel_month_micros + cost
            self.workspace_month[(team, month)] = usage.workspace_month_micros + cost
        self.account[job.line] = (usage.account_jobs + count, usage.account_oldest)

    def decide(self, admission: _Admission) -> bool | BaseException:
        """The admission's outcome, as if it had its own transaction after the group's earlier ones."""
        team = admission.job.team_id
        if taken := next((job for job in admission.jobs if job.id in self.ids_taken), None):
            return JobIdTaken(taken.id)
        if admission.trigger is not None and (team, admission.trigger) in self.triggers_taken:
            return False
        if admission.check is not None:
            usage = self._usage(admission)
            try:
                admission.check(usage, self.limits.get((team, admission.job.channel_id)))
            except Exception as exc:
                return exc
            self._count(admission, usage)
        if admission.trigger is not None:
            self.triggers_taken.add((team, admission.trigger))
        self.ids_taken.update(job.id for job in admission.jobs)
        return True


def _admission_writes(admitted: Sequence[_Admission], first_arrival: int) -> tuple[list[Statement], list[Statement]]:
    """A group's admitted jobs, then their triggers, first events and counters: one multi-row INSERT a table.

    The jobs take their places in line in the group's order, from `first_arrival` on: admissions are
    serialised, so nobody else numbers a job meanwhile (and a unique index would refuse a clash)."""
    jobs, events, triggers = [], [], []
    stored = [(job, admission.trigger) for admission in admitted for job in admission.jobs]
    for arrival, (job, trigger) in enumerate(stored, start=first_arrival):
        jobs.append([*(to_db(c, getattr(job, c)) for c in INSERTED_COLUMNS), arrival])
        events.append((job.id, job.created_at, job.state.value, f"stored trigger={trigger}" if trigger else "stored"))
        if trigger is not None and not any(job is other for a in admitted for other in a.more):
            triggers.append((job.team_id, trigger, job.id, job.created_at))
    writes = insert_rows("job_triggers", ("team_id", "trigger", "job_id", "at"), triggers)
    writes += insert_rows("job_events", ("job_id", "at", "state", "detail"), events)
    counted = [(job.team_id, job.state.value, 1, int(job.perf_job_id is not None)) for job, _ in stored]
    spent = [c for job, _ in stored if job.holds_quota for c in spend_of(job, 1, job.cost_micros)]
    parties = [
        change
        for arrival, (job, _) in enumerate(stored, start=first_arrival)
        for change in party_change(party_of(job), arrival, None, job.state)
    ]
    counters = count_changes(counted) + party_changes(parties) + spend_statements(spent)
    return insert_rows("jobs", (*INSERTED_COLUMNS, "arrival"), jobs), writes + counters


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
        month: tuple[float, float] | None = None,
        count_account: bool = False,
        more: Sequence[Job] = (),
    ) -> bool:
        """Store a new job. With `trigger`, only if that trigger never started a job: False if it did.

        With `check`, the usage of the job's channel and person during `day`, and the channel's own
        limits, are read in the same transaction and handed to it; if it raises, nothing is stored and
        the error reaches the caller. Check and reservation are one admission, serialised across
        processes, so a burst of commands cannot overshoot a quota, nor slip past a limit changed
        meanwhile. Admissions asked for together share one transaction (group commit).

        The check also gets the money spent (storage/spend.py): the person's during `day`, the channel's and
        the workspace's during `month`, and with `count_account` the account's jobs of the last 24 hours
        (through jobs_created: a day's rows, so only read where that limit is set). The job's cost counts
        in the day it carries (`job.spend_day`).

        `more`: jobs stored with `job` in the same admission, all or none, their count and cost checked with
        its (the other takes of a comparison; the trigger is `job`'s).
        """
        if check is not None and day is None:
            raise ValueError("a quota check needs the day it counts")
        return await self._admissions.submit(_Admission(job, trigger, day, check, month, count_account, tuple(more)))

    async def _admit(self, group: Sequence[_Admission]) -> list[bool | BaseException]:
        """One transaction for a group of admissions, decided in order as if each had its own.

        Two batches whatever the group's size: what to check, each thing read once (the line's end, the
        triggers, each channel's and person's usage of a day, the channels' own limits), then one multi-row
        INSERT a table. On SQLite that is two hand-overs to the database thread for a whole burst of
        commands; on PostgreSQL four round trips (BEGIN with the lock, the reads as one statement, the jobs'
        rows, the rest of the writes with the COMMIT), so the lock waits on the event loop three times, not
        once a statement, and the counters' rows (job_counts, spend_days, line_parties) not at all."""
        reads = _Reads.of(group)
        async with self._engine.transaction(admission=True) as db:
            ledger = _Ledger.read(reads, await db.selects(*reads.statements))
            outcomes = [ledger.decide(admission) for admission in group]
            admitted = [a for a, outcome in zip(group, outcomes, strict=True) if outcome is True]
            if not admitted:
                return outcomes
            # The writes and the COMMIT in one round trip: the admission lock, and the rows of job_counts,
            # spend_days and line_parties that other transactions wait for, held no longer than it takes.
            # The jobs' rows (their response_url and step token) are bound, never written into SQL text.
            jobs, writes = _admission_writes(admitted, ledger.last_arrival + 1)
            await db.finish(*writes, bound=jobs)
        stored = [job for admission in admitted for job in admission.jobs]
        for arrival, job in enumerate(stored, start=ledger.last_arrival + 1):
            job.arrival = arrival
        return outcomes
