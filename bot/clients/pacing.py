"""Slack's rate limits, known in advance: every Web API call waits for its turn here before it is sent.

Slack limits each method per workspace by tier, and `chat.postMessage` to about one message a second per
channel as well (`../shared/slack-platform.md`). Finding those limits with 429s costs every caller a
`Retry-After`; waiting for a turn costs only the calls that are over the pace, and lets the call a person
misses most go first. The buckets are aiolimiter's; what is this bot's own is the table of tiers and the
order of priorities.

A step of the job machine that has to wait for a turn steps aside while it waits (`stepping_aside`), so
that a burst of posts in one channel never holds up another job's delivery or submission.

Replicas (issue 27): Slack's limits are the app's in a workspace, not a process's. With a `SharedBudget`
(PostgreSQL's `slack_buckets`, given by the runtime) a call that has had its turn in its local lane also
takes a cell of that lane's bucket shared by every replica; refused, it waits the time the bucket names
(stepping aside) and asks again. Local lanes still order one replica's calls by priority; across
replicas, a BACKGROUND call takes a cell only while the bucket keeps one in reserve for URGENT and ROOT
calls. A 429 holds the lane in the shared bucket too. If the database does not answer, the call goes at
the local pace (one log line), rather than fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from aiolimiter import AsyncLimiter

from bot.clients.acks_first import acks_first

log = logging.getLogger("videobot.pacing")


class Priority(IntEnum):
    """Who goes first when a method's budget is short: lower is sooner."""

    URGENT = 0  # the video and its final edits, failures, private answers, forms someone has just opened
    ROOT = 1  # a job's root message: its post and its state changes
    BACKGROUND = 2  # progress, places in line, App Home tabs


@dataclass(frozen=True)
class Rate:
    per_minute: float
    burst: int  # calls that may go at once before the pace applies


# Slack's tiers (calls a minute per method per workspace) with a burst well inside what Slack tolerates:
# the published numbers are floors, so the bot paces to them rather than to what Slack let through once.
TIER_RATES = {1: Rate(1, 1), 2: Rate(20, 3), 3: Rate(50, 4), 4: Rate(100, 8)}
METHOD_TIERS = {
    "chat.update": 3,
    "chat.delete": 3,
    "reactions.add": 3,
    "conversations.open": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
    "users.info": 4,
    "auth.test": 4,
    "functions.completeSuccess": 3,
    "functions.completeError": 3,
}
UNKNOWN_METHOD_TIER = 3
# chat.postMessage has its own rule: about one message a second in each channel, and "several hundred a
# minute" for the workspace.
POST_METHOD = "chat.postMessage"
POST_PER_CHANNEL = Rate(60, 2)
POST_PER_WORKSPACE = Rate(300, 20)
UNPACED_METHODS = frozenset({"apps.connections.open"})  # Socket Mode's own plumbing
# A call that has waited this long counts one priority better: a steady stream of roots may delay the
# progress edits of running jobs, but not starve them (each still moves within about a minute).
AGING_SECONDS = 30.0
# How often a call whose turn went stale while its step waited for its place again asks for a new turn.
MAX_STALE_TURNS = 3

# Cells of a shared bucket a BACKGROUND call must leave for URGENT and ROOT calls of any replica (never the
# last cell of a bucket: a burst of 1 leaves no reserve).
BACKGROUND_RESERVE = 1
# How long a call waits for the shared bucket's answer before it goes at the local pace instead.
SHARED_BUDGET_TIMEOUT_SECONDS = 2.0


# A cell asked of one shared bucket: (lane, seconds between calls, seconds of burst the call may use).
Cell = tuple[str, float, float]


class SharedBudget(Protocol):
    """Buckets shared by every replica (`storage/slack_buckets.py`), one per lane, in the database's clock."""

    async def take(self, cells: Sequence[Cell]) -> float:
        """Take one cell of each bucket named, all or none, in one round trip: 0.0 when taken, else the
        seconds to wait before asking again."""
        ...

    async def hold(self, lane: str, seconds: float) -> None:
        """Slack answered 429: no replica calls in `lane` for `seconds`."""
        ...


@dataclass
class SharedUse:
    """What the shared buckets cost: round trips to them, and calls that went at the local pace instead."""

    calls: int = 0  # Slack calls paced
    round_trips: int = 0
    fallbacks: int = 0


_SteppingAside = Callable[[], AbstractAsyncContextManager[None]]
# Tasks started inside a step inherit its context: the task is kept beside the hook, so that only the
# step itself steps aside.
_stepping_aside: ContextVar[tuple[asyncio.Task[Any], _SteppingAside] | None] = ContextVar(
    "videobot_stepping_aside", default=None
)


def set_stepping_aside(hook: _SteppingAside) -> None:
    """For the current task: what to enter while a call waits for its turn (the poller frees a step)."""
    task = asyncio.current_task()
    if task is not None:
        _stepping_aside.set((task, hook))


def stepping_aside() -> AbstractAsyncContextManager[None]:
    """While the current step waits for something of Slack's pace (an edit another task sends for it)."""
    return _aside_of_this_task()


def _aside_of_this_task() -> AbstractAsyncContextManager[None]:
    found = _stepping_aside.get()
    if found is None or found[0] is not asyncio.current_task():
        return contextlib.nullcontext()
    return found[1]()


@dataclass(eq=False)
class Ticket:
    """A place in a lane's line; its priority may rise while it waits (a newer edit of the same message)."""

    priority: Priority
    order: int = field(default_factory=itertools.count().__next__)
    granted: asyncio.Future[None] | None = None
    since: float = 0.0  # the event loop's time it began to wait


class Lane:
    """One bucket (a method, or one channel's posts) and the calls waiting for it, best priority first."""

    def __init__(
        self,
        name: str,
        rate: Rate,
        scale: float = 1.0,
        shared: SharedBudget | None = None,
        use: SharedUse | None = None,
        together_with: Sequence[tuple[str, Rate]] = (),
    ) -> None:
        self.name = name
        per_second = rate.per_minute * scale / 60.0
        self._limiter = AsyncLimiter(rate.burst, rate.burst / per_second)
        self._turn_seconds = 1.0 / per_second
        self._waiting: list[Ticket] = []
        self._held_until = 0.0
        self._pump: asyncio.Task[None] | None = None
        self._shared = shared
        self._use = use or SharedUse()
        self._shared_wait_until = 0.0  # the event loop's time before which the shared bucket has no cell
        # The shared buckets taken with this lane's, in the same round trip: a channel's posts take the
        # workspace's post bucket too (whose local lane then has none of its own).
        self._buckets = [(name, r.burst, 60.0 / (r.per_minute * scale)) for name, r in [(name, rate), *together_with]]

    @property
    def waiting(self) -> int:
        return sum(1 for ticket in self._waiting if ticket.granted is not None and not ticket.granted.done())

    def _held(self) -> float:
        return self._held_until - asyncio.get_running_loop().time()

    @property
    def held_seconds(self) -> float:
        """How much longer a 429 holds this lane (0 when it is not held)."""
        return max(0.0, self._held())

    async def take_now(self, priority: Priority = Priority.URGENT) -> bool:
        """A turn if one is free this instant and nobody is waiting for it; waits for nothing but the shared
        bucket's answer (one round trip), and only with a shared budget."""
        loop = asyncio.get_running_loop()
        if self._held() > 0 or self.waiting or not self._limiter.has_capacity():
            return False
        if self._shared is None:
            await self._limiter.acquire()  # has capacity: returns without suspending, so nobody slips in between
            return True
        if loop.time() < self._shared_wait_until:
            return False
        # The shared cell first: a refusal then costs no local turn.
        wait = await self._ask_shared(priority)
        if wait > 0:
            self._shared_wait_until = max(self._shared_wait_until, loop.time() + wait)
            return False
        await self._limiter.acquire()  # at most a moment, if another call took the local turn meanwhile
        return True

    async def _ask_shared(self, priority: float) -> float:
        """One ask for a cell of the shared bucket: 0.0 when granted (or the database did not answer)."""
        assert self._shared is not None
        # The reserve: a BACKGROUND call leaves a cell of the burst to URGENT and ROOT calls of every replica.
        reserve = BACKGROUND_RESERVE if priority > Priority.ROOT else 0
        cells = [(name, cell, (burst - (reserve if burst > 1 else 0)) * cell) for name, burst, cell in self._buckets]
        try:
            async with asyncio.timeout(SHARED_BUDGET_TIMEOUT_SECONDS):
                self._use.round_trips += 1
                return await self._shared.take(cells)
        except Exception as exc:  # whatever the database raises: the call goes at the local pace
            self._use.fallbacks += 1
            log.warning("event=slack_pace_local lane=%s reason=%s", self.name, type(exc).__name__)
            return 0.0

    async def take(self, ticket: Ticket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(MAX_STALE_TURNS):
            if await self.take_now(ticket.priority):
                return
            ticket.granted = loop.create_future()
            ticket.since = ticket.since or loop.time()
            self._waiting.append(ticket)
            if self._pump is None or self._pump.done():
                self._pump = loop.create_task(self._hand_out(), name=f"slack-lane-{self.name}")
            async with _aside_of_this_task():
                await ticket.granted
                granted_at = loop.time()
            # A step that stepped aside gets its step back before it calls: a turn granted long before
            # that, or before a 429 hold began, would go out in a burst with the others granted meanwhile.
            if loop.time() - granted_at <= self._turn_seconds and self._held() <= 0:
                return
        # Still late after a few tries: go, rather than wait forever (Slack's 429, if any, holds the lane).

    def hold(self, seconds: float) -> None:
        """Slack said 429: nobody in this lane calls again for `seconds`."""
        self._held_until = max(self._held_until, asyncio.get_running_loop().time() + seconds)

    async def hold_shared(self, seconds: float) -> None:
        """After a 429: every replica holds this lane (nothing without a shared budget)."""
        if self._shared is None:
            return
        try:
            async with asyncio.timeout(SHARED_BUDGET_TIMEOUT_SECONDS):
                self._use.round_trips += 1
                await self._shared.hold(self.name, seconds)
        except Exception as exc:  # this replica holds it all the same
            self._use.fallbacks += 1
            log.warning("event=slack_hold_local lane=%s reason=%s", self.name, type(exc).__name__)

    def _best(self, live: list[Ticket]) -> tuple[Ticket, float]:
        """The ticket whose turn it is, and its priority as aged by its wait."""
        now = asyncio.get_running_loop().time()
        best = min(live, key=lambda t: (t.priority - (now - t.since) / AGING_SECONDS, t.order))
        return best, best.priority - (now - best.since) / AGING_SECONDS

    async def _hand_out(self) -> None:
        while True:
            self._waiting = [t for t in self._waiting if t.granted is not None and not t.granted.done()]
            if not self._waiting:
                return
            held = self._held()
            if held > 0:
                await asyncio.sleep(held)
                continue
            await self._limiter.acquire()
            if self._held() > 0:
                continue  # a 429 came in meanwhile: this turn is given up
            if self._shared is not None and not await self._shared_cell():
                continue
            live = [t for t in self._waiting if t.granted is not None and not t.granted.done()]
            if live:
                best, _ = self._best(live)
                self._waiting.remove(best)
                assert best.granted is not None
                best.granted.set_result(None)

    async def _shared_cell(self) -> bool:
        """For the best ticket waiting, a cell of the shared bucket (waiting until it is granted); False when
        nobody waits any more or a 429 came in meanwhile."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self._shared_wait_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._held() > 0:
                return False
            live = [t for t in self._waiting if t.granted is not None and not t.granted.done()]
            if not live:
                return False
            wait = await self._ask_shared(self._best(live)[1])
            if wait <= 0:
                return True
            self._shared_wait_until = loop.time() + wait

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for ticket in self._waiting:
            if ticket.granted is not None and not ticket.granted.done():
                ticket.granted.cancel()
        self._waiting.clear()


class Pacer:
    """The lanes of every workspace. `scale` multiplies every rate (Slack grants some apps more).

    Slack's limits are per workspace: `scope()` names the workspace the current call is for (the gateway's
    acting workspace; always "" with one workspace), and each has lanes of its own, so a busy workspace
    never slows another."""

    def __init__(
        self, scale: float = 1.0, scope: Callable[[], str] = lambda: "", shared: SharedBudget | None = None
    ) -> None:
        self._scale = scale
        self._scope = scope
        self._lanes: dict[str, Lane] = {}
        # Replicas: every lane also takes its cells from a bucket all of them share (None: this process alone).
        self._shared = shared
        self.shared_use = SharedUse()

    def _lane(
        self, key: str, rate: Rate, *, shared: bool = True, together_with: Sequence[tuple[str, Rate]] = ()
    ) -> Lane:
        lane = self._lanes.get(key)
        if lane is None:
            budget = self._shared if shared else None
            lane = self._lanes[key] = Lane(key, rate, self._scale, budget, self.shared_use, together_with)
        return lane

    def lanes_for(self, method: str, channel: str = "") -> list[Lane]:
        """The buckets a call draws from, narrowest first (a channel's posts, then the method's)."""
        if method in UNPACED_METHODS:
            return []
        scope = self._scope()
        prefix = f"{scope}:" if scope else ""
        if method == POST_METHOD:
            # Shared by replicas, the workspace's post bucket is taken by each channel's lane with the channel's
            # own cell, in one round trip; its local lane paces this replica alone. (The gateway names the
            # channel of every post: Slack requires it.)
            workspace = f"{prefix}{POST_METHOD}"
            lanes = [self._lane(workspace, POST_PER_WORKSPACE, shared=False)]
            if channel:
                together = [(workspace, POST_PER_WORKSPACE)]
                lanes.insert(0, self._lane(f"{workspace}@{channel}", POST_PER_CHANNEL, together_with=together))
            return lanes
        return [self._lane(f"{prefix}{method}", TIER_RATES[METHOD_TIERS.get(method, UNKNOWN_METHOD_TIER)])]

    async def turn(self, method: str, channel: str, ticket: Ticket) -> None:
        # A job's call waits while Slack's requests are being answered; a request's own calls never do.
        await acks_first()
        self.shared_use.calls += 1
        for lane in self.lanes_for(method, channel):
            await lane.take(ticket)

    async def hold(self, method: str, channel: str, seconds: float) -> None:
        """After a 429: hold the narrowest lane of the call (a channel's posts, else the method), in every
        replica when the budget is shared."""
        lanes = self.lanes_for(method, channel)
        if lanes:
            lanes[0].hold(seconds)
            log.warning("event=slack_rate_limited lane=%s hold_seconds=%.1f", lanes[0].name, seconds)
            await lanes[0].hold_shared(seconds)

    async def close(self) -> None:
        for lane in self._lanes.values():
            await lane.close()
        if self._shared is not None:
            use = self.shared_use
            log.info(
                "event=slack_pace_shared calls=%d round_trips=%d fallbacks=%d",
                use.calls,
                use.round_trips,
                use.fallbacks,
            )
