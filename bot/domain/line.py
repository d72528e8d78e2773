"""The fair line: who gets the account's next free slot at Perf, and each waiting job's place. Pure.

The account's line is made of *parties*, each with its own jobs in arrival order. The next free slot goes
to the waiting party with the fewest jobs at Perf (`running`), and among those to the one served least
recently (`turn`: a party never served has the lowest, in the order its first job arrived; each slot
taken gives the party the next, highest turn). Within a party its jobs keep their arrival order.

A party is a person of a workspace (issue 25: the same user id in two workspaces is two people).

Perf's limits are per key (issue 25), so there is one line per key, named by `LINE_COLUMN`: "" for the
operator's PERF_API_KEY, which every workspace without a key of its own shares, else the team whose own
key it is. Each line has its own slots and its own turns: workspaces with their own keys never wait on each
other. A party is a person within one line, so the same person's jobs on two keys (a key set while some
waited) are two parties.

The operator's line is shared by every workspace without a key of its own. With many workspaces its turns
are *grouped* by workspace (`grouped=True`): a slot taken by one person of a workspace is a turn taken by
the whole workspace (every party of it on that line moves after every turn given so far, keeping its
order among them, the claimant last: `group_turns`), so at the same number of jobs
at Perf the workspace served least recently goes first, and within a workspace its people still go by
fewest at Perf, then served least recently. One workspace's burst (ten people, three jobs each) therefore
holds back another's single job by no more than the slot being given now: the newcomer's party is never
served, so its turn is below every party of a workspace served since. A workspace's own key's line is
its alone, and stays person by person.

`PARTY_COLUMNS` is the one place that says so: the jobs table's columns the line groups jobs by (storage's
index and the `line_parties` summary are keyed by them, line first), and `party_of` their values as one key.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.job import Job

# Which line (which Perf key's slots) a job waits in: the column of `jobs` naming it.
LINE_COLUMN = "line"
# Who is a party to fairness: the columns of `jobs` whose values name a job's party, its line first, and how
# the key joins them (no Slack id holds a colon): ":T1:U1" on the operator's line.
PARTY_COLUMNS = (LINE_COLUMN, "team_id", "user_id")
PARTY_SEPARATOR = ":"
# A party never served gets its turn from its first job's arrival, below every turn of a party served.
NEVER_SERVED = -(2**40)


def party_of(job: Job) -> str:
    return PARTY_SEPARATOR.join(str(getattr(job, column)) for column in PARTY_COLUMNS)


def party_values(key: str) -> tuple[str, ...]:
    """The PARTY_COLUMNS' values a party's key joins: what its jobs are found by."""
    values = tuple(key.split(PARTY_SEPARATOR, len(PARTY_COLUMNS) - 1))
    if len(values) != len(PARTY_COLUMNS):
        raise ValueError(f"not a party's key: {key!r}")
    return values


def group_of(party: str) -> str:
    """The workspace a party's turns are grouped under on a shared line: its line and team."""
    line, team, _ = party_values(party)
    return f"{line}{PARTY_SEPARATOR}{team}"


def group_prefix(party: str) -> str:
    """The start every party key of `party`'s workspace on its line shares ("line:team:")."""
    return group_of(party) + PARTY_SEPARATOR


def line_of(party: str) -> str:
    """The line (Perf key) a party's key names."""
    return party_values(party)[0]


def first_turn(arrival: int) -> int:
    """The turn of a party first seen with the job numbered `arrival`: before anyone served, first come first."""
    return NEVER_SERVED + arrival


def next_turn(highest: int | None) -> int:
    """The turn a party takes with a slot: after every turn given so far (and after every party never served)."""
    return max(1, (highest or 0) + 1)


@dataclass(frozen=True)
class Party:
    key: str
    running: int  # its jobs holding a slot at Perf
    waiting: int  # its jobs in line
    turn: int  # lower: served less recently


def turns(parties: Iterable[Party], slots: int, cap: int = 0, grouped: bool = False) -> list[str]:
    """The parties the next `slots` slots go to, in order, as if no job finished meanwhile.

    `cap` (0: none): a party holding `cap` slots gets no more. The first `slots` turns only ever go to
    the first `slots` parties in (running, turn) order, so a caller need read no more of them; `grouped`
    (a shared line, see the module): a turn is taken by the party's whole workspace, and the caller passes
    every waiting party of the line."""
    if grouped:
        return list(_grouped_turns(parties, cap, slots))
    heap = [(p.running, p.turn, p.key, p.waiting) for p in parties if p.waiting > 0 and (cap <= 0 or p.running < cap)]
    heapq.heapify(heap)
    given = max((p[1] for p in heap), default=0)
    chosen: list[str] = []
    while heap and len(chosen) < slots:
        running, _, key, waiting = heapq.heappop(heap)
        chosen.append(key)
        given = next_turn(given)
        if waiting > 1 and (cap <= 0 or running + 1 < cap):
            heapq.heappush(heap, (running + 1, given, key, waiting - 1))
    return chosen


def _grouped_turns(parties: Iterable[Party], cap: int, slots: int) -> Iterable[str]:
    """`turns` on a shared line, played out: each pick gives its workspace's parties the new turn. A few
    picks over the waiting parties of one line (one row a person, not a job)."""
    state = {p.key: [p.running, p.turn, p.waiting] for p in parties if p.waiting > 0}
    given = max((s[1] for s in state.values()), default=0)
    for _ in range(slots):
        ready = [(s[0], s[1], key) for key, s in state.items() if s[2] > 0 and (cap <= 0 or s[0] < cap)]
        if not ready:
            return
        _, _, key = min(ready)
        yield key
        group = group_prefix(key)
        others = sorted((s[1], other) for other, s in state.items() if other.startswith(group) and other != key)
        for party, turn in group_turns(given, [other for _, other in others], key).items():
            state[party][1] = turn
        given = state[key][1]
        state[key][0] += 1
        state[key][2] -= 1


def group_turns(highest: int | None, others: Sequence[str], claimant: str) -> dict[str, int]:
    """The turns a workspace's parties take when `claimant` takes a slot on a shared line: every one after
    every turn given so far, the others keeping their order among themselves (`others`, least recently
    served first), the claimant last."""
    base = next_turn(highest)
    given = {party: base + rank for rank, party in enumerate(others)}
    given[claimant] = base + len(others)
    return given


# How far a shared line's places are played out (each pick costs a pass over its waiting parties); a job
# deeper in line is shown the count `place_in_line` gives, the same order but for the workspaces' turns.
GROUP_PLACES_PLAYED = 200


def place_in_group_line(party: Party, nth: int, parties: Sequence[Party]) -> int:
    """`place_in_line` on a shared line (grouped turns): played out up to `party`'s `nth` job, when within
    GROUP_PLACES_PLAYED; counted as `place_in_line` does beyond."""
    seen = 0
    for place, key in enumerate(_grouped_turns(parties, 0, GROUP_PLACES_PLAYED), start=1):
        if key == party.key:
            seen += 1
            if seen == nth:
                return place
    return max(GROUP_PLACES_PLAYED + 1, place_in_line(party, nth, parties))


def place_in_line(party: Party, nth: int, others: Sequence[Party]) -> int:
    """The place (1: next) of `party`'s `nth` waiting job (1: its first), in the order `turns` gives.

    Counted, not played out: the job starts when its party reaches `running + nth - 1` slots. Every other
    party's turns below that count go first; at that count, those that joined it with more slots already
    held (they had turns at lower counts before) go first, then the less recently served. One pass over
    the waiting parties, whatever the number of jobs."""
    level = party.running + nth - 1
    ahead = nth - 1
    for other in others:
        if other.key == party.key or other.waiting <= 0:
            continue
        ahead += min(max(level - other.running, 0), other.waiting)
        holds_level = other.running <= level < other.running + other.waiting
        if holds_level and (other.running, -other.turn) > (party.running, -party.turn):
            ahead += 1
    return ahead + 1
