"""The account's line: the jobs waiting for one of its concurrent slots at Perf, and who gets the next one.

The line is fair between parties (bot/domain/line.py): the next slot goes to the waiting party with the
fewest jobs at Perf, then to the one served least recently; a party's own jobs keep their arrival order.
What that needs is kept small on purpose. `line_parties` holds one row a party (its jobs waiting and
running, its turn), updated in the transactions that move its jobs; its partial index line_parties_next
is ordered exactly as the pick orders, (running, turn), and holds only the parties with jobs in line.
The first `n` slots can only go to the first `n` rows of that index, and a party's next jobs are the
first rows of jobs_party_waiting (party, arrival). So picking reads a few index rows, however many jobs
wait and however many people queued them (bench/fair_line.py).

There is one line per Perf key (issue 25; bot/domain/line.py): a job's `line` column names it, and every
read here is of one line: its jobs at Perf (jobs_line_in_flight), its parties (line_parties_next leads
with the line), a party's jobs (jobs_party_waiting: line, person, arrival). `limit` and `cap` are each
line's own: a key's slots are never taken by another key's jobs.

With many workspaces (`workspaces_share_line`), the operator's line is shared by workspaces, and its turns
are grouped by workspace (bot/domain/line.py): a claim gives the new turn to every party of the claimant's
workspace on that line (a range of line_parties' primary key, "line:team:"; each keeps its order within
the workspace), and the pick reads every
waiting party of that line rather than the first few (one row a person waiting, never a job). One
workspace's line keeps the flat reads above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.job import IN_FLIGHT_STATES, WAITING_STATES, Job, JobState
from bot.domain.line import (
    LINE_COLUMN,
    PARTY_COLUMNS,
    PARTY_SEPARATOR,
    Party,
    group_prefix,
    group_turns,
    next_turn,
    party_of,
    party_values,
    place_in_group_line,
    place_in_line,
    turns,
)
from bot.domain.perf_keys import OPERATOR_LINE
from storage.base import StoreBase
from storage.engine import Row, Statement
from storage.rows import job_from_row
from storage.sql import count_changes, in_list, party_change, party_changes, state_literal, states_list

_WAITING = states_list(WAITING_STATES)
_IN_FLIGHT = states_list(IN_FLIGHT_STATES)
_QUEUED = state_literal(JobState.QUEUED)
_SUBMITTING = state_literal(JobState.SUBMITTING)
_SUBMITTING_EVENT = f"INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, {_SUBMITTING}, 'submitting')"

# One line's slots, through the partial index jobs_line_in_flight: what is running, never the history.
IN_FLIGHT_SQL = f"SELECT COUNT(*) FROM jobs WHERE state IN {_IN_FLIGHT} AND {LINE_COLUMN} = ?"
# A line's parties with jobs in line, the next slot's first (line_parties_next); LIMIT: the first few only.
NEXT_PARTIES_SQL = (
    "SELECT party, running, waiting, turn FROM line_parties WHERE line = ? AND waiting > 0 ORDER BY running, turn"
)
WAITING_PARTIES_SQL = "SELECT party, running, waiting, turn FROM line_parties WHERE line = ? AND waiting > 0"
# The lines with jobs waiting (a handful: one a key), each woken on its own.
WAITING_LINES_SQL = "SELECT DISTINCT line FROM line_parties WHERE waiting > 0"
HIGHEST_TURN_SQL = "SELECT MAX(turn) FROM line_parties"
TAKE_TURN_SQL = "UPDATE line_parties SET turn = ? WHERE party = ?"
# A workspace's parties on a shared line, least recently served first: the range of keys starting
# "line:team:" (";" follows ":"), through line_parties' primary key.
GROUP_PARTIES_SQL = "SELECT party FROM line_parties WHERE party >= ? AND party < ? ORDER BY turn, party"
# A party's jobs: its columns' values (bound as party_values gives them), through jobs_party_waiting.
_OF_PARTY = " AND ".join(f"{column} = ?" for column in PARTY_COLUMNS)
_PARTY_KEY = f" || '{PARTY_SEPARATOR}' || ".join(PARTY_COLUMNS)
# A party's jobs in line ahead of one of them (jobs_party_waiting); capped where only "fewer than n?" matters.
PARTY_AHEAD_SQL = (
    f"SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE {_OF_PARTY} AND state IN {_WAITING} "
    "AND arrival < (SELECT arrival FROM jobs WHERE id = ?) LIMIT ?) AS ahead"
)
# A party's first jobs in line: one of these a party, joined with UNION ALL.
_PARTY_HEAD = (
    f"SELECT id, {_PARTY_KEY} AS party, arrival, queue_position, next_poll_at FROM jobs "
    f"WHERE {_OF_PARTY} AND state IN {_WAITING} ORDER BY arrival LIMIT ?"
)
# Only jobs parked in line (no next_poll_at) need waking; announced jobs are due already. The redundant IN
# is what lets SQLite use the partial index jobs_waiting (checked with EXPLAIN QUERY PLAN): without it
# this is a scan of every job, on every tick.
PARKED_SQL = f"SELECT 1 FROM jobs WHERE state IN {_WAITING} AND state = {_QUEUED} AND next_poll_at IS NULL LIMIT 1"
# A party's place can be anything up to the length of the line; a job deeper than this is not searched for.
_NO_LIMIT = 2**31 - 1


def heads_sql(counts: dict[str, int]) -> tuple[str, list[Any]]:
    """One statement for the first `n` jobs in line of each party in `counts` (party: n)."""
    parts, params = [], []
    for number, (party, n) in enumerate(sorted(counts.items())):
        parts.append(f"SELECT * FROM ({_PARTY_HEAD}) AS p{number}")
        params += [*party_values(party), n]
    return " UNION ALL ".join(parts), params


def _party(row: Row) -> Party:
    return Party(str(row[0]), int(row[1]), int(row[2]), int(row[3]))


def _ahead(job: Job, limit: int) -> tuple[Any, ...]:
    """PARTY_AHEAD_SQL's parameters for `job`'s party."""
    return (*party_values(party_of(job)), job.id, limit)


def _has_its_turn(
    job: Job, limit: int, cap: int, grouped: bool, in_flight: Sequence[Row], ahead: Sequence[Row], rows: Sequence[Row]
) -> bool:
    """Whether the line gives `job` one of the free slots, from claim_slot's reads: the line's jobs at Perf,
    the party's jobs ahead of `job` (counted up to `limit`), and its parties (the first `limit`)."""
    free = limit - int(in_flight[0][0] or 0)
    if free <= 0:
        return False
    parties = [_party(row) for row in rows]
    if not grouped:
        parties = parties[:free]
    given = turns(parties, free, cap, grouped=grouped).count(party_of(job))
    return given > 0 and int(ahead[0][0] or 0) < given


class QueueQueries(StoreBase):
    # Many workspaces: the operator's line is shared, and its turns go workspace by workspace first.
    workspaces_share_line: bool = False

    def _grouped(self, line: str) -> bool:
        return self.workspaces_share_line and line == OPERATOR_LINE

    async def claim_slot(self, job: Job, limit: int, now: float, cap: int = 0) -> bool:
        """Move `job` to submitting if the account has a free slot and the line gives it one; one admission.

        With `limit` (0: none), the free slots go in turn (bot.domain.line.turns) and `job` gets one only
        if it is among those turns; `cap` (0: none) is how many slots one party may hold. Fenced by the
        state `job` was read in, as `update_job` is: that is the state job_counts takes it from."""
        party = party_of(job)
        grouped = self._grouped(job.line)
        prefix = group_prefix(party)
        # Everything the claim decides on, read at once; then the move, fenced, with its counters and the
        # COMMIT: the admission lock waits for the event loop twice, not once a statement.
        reads: list[Statement] = [(HIGHEST_TURN_SQL, ())]
        if grouped:
            reads.append((GROUP_PARTIES_SQL, (prefix, prefix[:-1] + ";")))
        if limit > 0:
            # The party's jobs ahead counted up to `limit`: only "fewer than it is given?" matters, and it is
            # given at most `limit`.
            reads.append((IN_FLIGHT_SQL, (job.line,)))
            reads.append((PARTY_AHEAD_SQL, _ahead(job, limit)))
            reads.append(
                (WAITING_PARTIES_SQL, (job.line,)) if grouped else (f"{NEXT_PARTIES_SQL} LIMIT ?", (job.line, limit))
            )
        async with self._engine.transaction(admission=True) as db:
            found = await db.selects(*reads)
            if limit > 0 and not _has_its_turn(job, limit, cap, grouped, *(result.rows for result in found[-3:])):
                return False
            submitted = int(job.perf_job_id is not None)
            moved = [
                (job.team_id, job.state.value, -1, -submitted),
                (job.team_id, JobState.SUBMITTING.value, 1, submitted),
            ]
            highest = found[0].rows[0][0]
            if grouped:
                others = [str(row[0]) for row in found[1].rows if str(row[0]) != party]
                given = group_turns(highest, others, party)
            else:
                given = {party: next_turn(highest)}
            claimed = await db.finish_fenced(
                (
                    f"UPDATE jobs SET state = {_SUBMITTING}, submitted_at = ?, updated_at = ? "
                    f"WHERE id = ? AND state = ? AND state IN {_WAITING}",
                    (now, now, job.id, job.state.value),
                ),
                (_SUBMITTING_EVENT, (job.id, now)),
                *count_changes(moved),
                *party_changes(party_change(party, job.arrival, job.state, JobState.SUBMITTING)),
                *((TAKE_TURN_SQL, (turn, key)) for key, turn in sorted(given.items())),
            )
        if claimed:
            job.state, job.submitted_at, job.updated_at = JobState.SUBMITTING, now, now
        return claimed

    async def queue_position(self, job: Job) -> int:
        """1 for the head of the line, in the order the slots will go if no job finishes meanwhile.

        Jobs still being announced count: they are in line. One read of the waiting parties (one row a
        party, not a job) and a count of the job's own party ahead of it."""
        party = party_of(job)
        parties = [_party(row) for row in await self._db.fetch(WAITING_PARTIES_SQL, job.line)]
        nth = int(await self._db.fetchval(PARTY_AHEAD_SQL, *_ahead(job, _NO_LIMIT)) or 0) + 1
        own = next((p for p in parties if p.key == party), None)
        if own is not None and self._grouped(job.line):
            return place_in_group_line(own, nth, parties)
        return place_in_line(own, nth, parties) if own is not None else nth

    async def places_in_line(self, jobs: Sequence[Job]) -> dict[str, int]:
        """The place of each waiting job of `jobs`, by id (what `/video status` shows)."""
        waiting = [job for job in jobs if job.state in WAITING_STATES]
        if not waiting:
            return {}
        lines: dict[str, dict[str, Party]] = {}
        for line in sorted({job.line for job in waiting}):
            rows = await self._db.fetch(WAITING_PARTIES_SQL, line)
            lines[line] = {p.key: p for p in (_party(row) for row in rows)}
        places: dict[str, int] = {}
        for job in waiting:
            party, parties = party_of(job), lines[job.line]
            nth = int(await self._db.fetchval(PARTY_AHEAD_SQL, *_ahead(job, _NO_LIMIT)) or 0) + 1
            own = parties.get(party)
            if own is not None and self._grouped(job.line):
                places[job.id] = place_in_group_line(own, nth, list(parties.values()))
            else:
                places[job.id] = place_in_line(own, nth, list(parties.values())) if own is not None else nth
        return places

    async def line_parties(self) -> list[Party]:
        """Every party the line has seen, as line_parties keeps it (`videobot` checks, tests)."""
        rows = await self._db.fetch("SELECT party, running, waiting, turn FROM line_parties ORDER BY party")
        return [_party(row) for row in rows]

    async def line_parties_next(self, count: int, line: str = "") -> list[Party]:
        """The first `count` parties with jobs in `line`, in the order the next slots go (before any cap)."""
        return [_party(row) for row in await self._db.fetch(f"{NEXT_PARTIES_SQL} LIMIT ?", line, count)]

    async def first_in_line(self, party: str) -> Job | None:
        """`party`'s job that is next in its own line (its earliest waiting)."""
        sql, params = heads_sql({party: 1})
        row = await self._db.fetchrow(
            f"SELECT j.* FROM jobs AS j WHERE j.id IN (SELECT id FROM ({sql}) AS head)", *params
        )
        return job_from_row(row) if row else None

    async def wake_queue(self, limit: int, now: float, shown: int, cap: int = 0) -> int:
        """Make due the waiting jobs that may now get a slot, and those among the first `shown` whose place
        in line changed (so their thread shows it). Costs one indexed lookup when nobody waits; otherwise
        a few rows of two indexes, however long the line."""
        if await self._db.fetchval(PARKED_SQL) is None:
            return 0
        woken = 0
        for row in await self._db.fetch(WAITING_LINES_SQL):
            woken += await self._wake_line(str(row[0]), limit, now, shown, cap)
        return woken

    async def _wake_line(self, line: str, limit: int, now: float, shown: int, cap: int) -> int:
        """wake_queue for one line (one Perf key's slots)."""
        running = int(await self._db.fetchval(IN_FLIGHT_SQL, line) or 0)
        free = max(0, limit - running) if limit > 0 else 0
        grouped = self._grouped(line)
        if grouped:
            rows = await self._db.fetch(WAITING_PARTIES_SQL, line)
        else:
            rows = await self._db.fetch(f"{NEXT_PARTIES_SQL} LIMIT ?", line, max(free, shown, 1))
        parties = [_party(row) for row in rows]
        starting = turns(parties, free, cap, grouped=grouped)
        order = turns(parties, shown, grouped=grouped)
        wanted = {p.key: max(starting.count(p.key), order.count(p.key)) for p in parties}
        wanted = {party: n for party, n in wanted.items() if n > 0}
        if not wanted:
            return 0
        sql, params = heads_sql(wanted)
        heads: dict[str, list[Row]] = {}
        for row in sorted(await self._db.fetch(sql, *params), key=lambda row: int(row["arrival"])):
            heads.setdefault(str(row["party"]), []).append(row)
        wake: set[str] = set()
        for party, n in {key: starting.count(key) for key in set(starting)}.items():
            wake.update(str(row["id"]) for row in heads.get(party, [])[:n])
        taken: dict[str, int] = {}
        for place, party in enumerate(order, start=1):
            index = taken.get(party, 0)
            taken[party] = index + 1
            rows = heads.get(party, [])
            if index < len(rows) and rows[index]["queue_position"] != place:
                wake.add(str(rows[index]["id"]))
        if not wake:
            return 0
        ids = sorted(wake)
        async with self._engine.transaction() as db:
            wake_sql, wake_params = in_list(
                "UPDATE jobs SET next_poll_at = ? WHERE next_poll_at IS NULL AND id IN ({})", ids, now
            )
            return await db.execute(wake_sql, *wake_params)
