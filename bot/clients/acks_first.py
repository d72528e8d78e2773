"""Acknowledgements first: while Slack's requests are answered, the jobs' own calls wait for a quiet moment.

One event loop serves Slack's requests and the jobs' steps, and asyncio has no priorities. A step that
posts to Slack or calls Perf in the middle of a burst of commands takes the loop from the acks behind it:
with 200 `/video` 50 at a time (`python -m bench.ack_bursts`), the steps of the commands just before a
burst made 44-64 Slack calls and 24-32 Perf creates while it was answered, and its acks' p99 was
92-162 ms; with the waits below, none, and 44-77 ms where no collection fell in the burst. Slack gives
an ack 3 s, and nobody sees a root message come 25 ms later.

So a step marks its context (`in_background`, the poller does it for each step and scheduled task, and the
tasks a step starts inherit it), and every call out of this process from a marked context (a Slack call
at its turn in the pacer, a Perf request, a video's download) first waits here until no request from Slack
is being answered and none was for QUIET_SECONDS, and never longer than AT_MOST_SECONDS: a stream of requests that never
pauses holds a job back a moment, not forever. Calls made while answering a request are never marked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# A gap between two requests this long means the burst is over (the poller's ticks wait for it too).
QUIET_SECONDS = 0.025
AT_MOST_SECONDS = 1.0


class AcksFirst:
    """Slack's requests being answered, and when the last one arrived or was answered, in the event loop's
    clock (real time even where tests fake the bot's clock)."""

    def __init__(self) -> None:
        self.quiet_seconds = QUIET_SECONDS
        self.at_most_seconds = AT_MOST_SECONDS
        self._answering = 0
        self._last_seen = float("-inf")
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request from Slack, from its arrival to its acknowledgement."""
        self._answering += 1
        self._idle.clear()
        self._last_seen = asyncio.get_running_loop().time()
        try:
            yield
        finally:
            self._answering -= 1
            self._last_seen = asyncio.get_running_loop().time()
            if self._answering == 0:
                self._idle.set()

    def pending(self) -> bool:
        """Whether a request is being answered, or one was within the quiet period."""
        return self._answering > 0 or asyncio.get_running_loop().time() < self._last_seen + self.quiet_seconds

    async def quiet(self, stopping: asyncio.Event | None = None) -> None:
        """Return once no request has been answered for `quiet_seconds` (the next of a burst comes sooner),
        `at_most_seconds` from now at the latest, or as soon as `stopping` is set."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.at_most_seconds
        while not (stopping is not None and stopping.is_set()):
            now = loop.time()
            if self._answering:
                # Until the requests in hand are answered; then the quiet period runs from that moment.
                until, idle = give_up_at, self._idle
            else:
                until, idle = min(self._last_seen + self.quiet_seconds, give_up_at), None
            if until <= now:
                return
            await _first_of(idle, stopping, seconds=until - now)


async def _first_of(*events: asyncio.Event | None, seconds: float) -> None:
    """Until one of `events` is set, or `seconds` have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events if event is not None]
    if not waits:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


_background: ContextVar[AcksFirst | None] = ContextVar("videobot_acks_first", default=None)


def in_background(gate: AcksFirst) -> None:
    """Mark the current context (and the tasks it starts) as a job's: its calls out wait for `gate`."""
    _background.set(gate)


async def acks_first() -> None:
    """Before a call out: in a job's context, wait until Slack's requests have had their acks."""
    gate = _background.get()
    if gate is not None and gate.pending():
        await gate.quiet()
