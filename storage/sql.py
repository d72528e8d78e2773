"""Pieces of SQL that several seams of the store build their statements from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.domain.job import IN_FLIGHT_STATES, WAITING_STATES, JobState
from bot.domain.line import first_turn, line_of
from storage.engine import Statement

# Well below both engines' limit on bound parameters (32,766 in SQLite's builds since 3.32, 32,767 in PostgreSQL).
MAX_PARAMETERS = 10_000


def in_list(sql: str, values: Sequence[Any], *before: Any) -> Statement:
    """`sql` with its `IN ({})` list filled with one placeholder per value; `before` binds the ones ahead of it."""
    return sql.format(", ".join("?" for _ in values)), (*before, *values)


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = "") -> list[Statement]:
    """INSERTs of `rows`, many to a statement: one round trip for a group on PostgreSQL, not one a row.

    `then` ends each statement (an ON CONFLICT or RETURNING clause)."""
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    placeholders = "(" + ", ".join("?" for _ in columns) + ")"
    statements: list[Statement] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(placeholders for _ in chunk)}{then}"
        statements.append((sql, [value for row in chunk for value in row]))
    return statements


def state_literal(state: JobState) -> str:
    """`state` as an SQL string literal, for statements built once at import from the domain's states."""
    if not state.value.isidentifier():
        raise ValueError(f"a job state unfit for an SQL literal: {state.value!r}")
    return f"'{state.value}'"


def states_list(states: Iterable[JobState]) -> str:
    """`states` as an SQL list of literals, `('accepted', 'queued')`, in JobState's declaration order.

    Literals, not parameters, and always in that order: SQLite uses a partial index only for a WHERE that
    repeats the index's own terms word for word (with `IN (?, ?)`, or the same states in another order,
    it scans every job: checked with EXPLAIN QUERY PLAN), and the IN lists of jobs_waiting and
    jobs_in_flight (migrations 3 and 8) are written in that order. A set's own order changes with each
    process.
    """
    chosen = frozenset(states)
    return "(" + ", ".join(state_literal(state) for state in JobState if state in chosen) + ")"


# (team, state, jobs, submitted): what a write adds to job_counts (migrations 12 and 23) for one workspace's
# state, negative to take away.
CountChange = tuple[str, str, int, int]


def count_changes(changes: Iterable[CountChange]) -> list[Statement]:
    """The statement that applies `changes` to job_counts, in the transaction that changes the jobs.

    One row a state, summed, in the states' order: two transactions moving jobs between the same two
    states in opposite directions (queued → submitting, submitting → queued) lock the rows they update in
    the same order on PostgreSQL, so they wait for each other instead of deadlocking."""
    summed: dict[tuple[str, str], list[int]] = {}
    for team, state, jobs, submitted in changes:
        total = summed.setdefault((team, state), [0, 0])
        total[0] += jobs
        total[1] += submitted
    rows = [(*key, jobs, submitted) for key, (jobs, submitted) in sorted(summed.items()) if jobs or submitted]
    if not rows:
        return []
    return insert_rows(
        "job_counts",
        ("team_id", "state", "jobs", "submitted"),
        rows,
        " ON CONFLICT (team_id, state) DO UPDATE SET jobs = job_counts.jobs + excluded.jobs,"
        " submitted = job_counts.submitted + excluded.submitted",
    )


# (party, arrival, waiting, running): what a write adds to line_parties (the fair line) for one job's party.
PartyChange = tuple[str, int, int, int]


def party_change(party: str, arrival: int | None, left: JobState | None, entered: JobState) -> list[PartyChange]:
    """What a job of `party` moving from `left` (None: newly stored) to `entered` adds to line_parties."""
    waiting = int(entered in WAITING_STATES) - int(left in WAITING_STATES)
    running = int(entered in IN_FLIGHT_STATES) - int(left in IN_FLIGHT_STATES)
    return [(party, arrival or 0, waiting, running)] if waiting or running else []


def party_changes(changes: Iterable[PartyChange]) -> list[Statement]:
    """The statement that applies `changes` to line_parties, in the transaction that changes the jobs.

    Summed a party and in the parties' order, as count_changes is for the same reason (no deadlock on
    PostgreSQL, and one row a party in a multi-row upsert). A party first seen takes the turn of one never
    served, from its job's arrival (bot.domain.line.first_turn)."""
    summed: dict[str, list[int]] = {}
    for party, arrival, waiting, running in changes:
        total = summed.setdefault(party, [arrival, 0, 0])
        total[0] = min(total[0], arrival)
        total[1] += waiting
        total[2] += running
    rows = [
        (party, line_of(party), waiting, running, first_turn(arrival))
        for party, (arrival, waiting, running) in sorted(summed.items())
        if waiting or running
    ]
    if not rows:
        return []
    return insert_rows(
        "line_parties",
        ("party", "line", "waiting", "running", "turn"),
        rows,
        " ON CONFLICT (party) DO UPDATE SET waiting = line_parties.waiting + excluded.waiting,"
        " running = line_parties.running + excluded.running",
    )
