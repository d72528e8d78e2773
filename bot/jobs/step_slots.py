"""The poller's concurrent steps: a fixed number of slots, given up while a step waits for Slack's pace.

A step waiting its turn to post uses nothing, and a burst of posts in one channel must not hold up the
deliveries and submissions of other jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class StepSlots:
    def __init__(self, concurrency: int) -> None:
        self._free = asyncio.Semaphore(concurrency)
        self.aside = 0  # steps in flight that wait for Slack's pace and so hold no slot

    async def take(self) -> StepSlot:
        await self._free.acquire()
        return StepSlot(self)


class StepSlot:
    """One step's place; `aside` is what the Slack pacer calls around a wait for its turn."""

    def __init__(self, slots: StepSlots) -> None:
        self._slots = slots
        self._held = True

    @contextlib.asynccontextmanager
    async def aside(self) -> AsyncIterator[None]:
        if not self._held:
            yield
            return
        self._slots._free.release()
        self._held = False
        self._slots.aside += 1
        try:
            yield
        finally:
            self._slots.aside -= 1
            await self._slots._free.acquire()
            self._held = True

    def give_back(self) -> None:
        if self._held:
            self._slots._free.release()
            self._held = False
