"""Group commit: writes asked for at the same moment share one transaction.

A burst of 50 slash commands used to be 50 admissions queued one behind the other on the admission
lock, each two hand-overs to the database thread: the last ack waited for a hundred of them. Grouped,
the burst is two or three transactions, and each command still gets its own answer, only after the
transaction that stored it has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# What one group's transaction decides for each of its items, in order: a result or the error to raise.
GroupRunner = Callable[[Sequence[Item]], Awaitable[Sequence["Outcome | BaseException"]]]


class GroupCommit(Generic[Item, Outcome]):
    """Runs `runner` on everything submitted while the previous group was running, one group at a time."""

    def __init__(self, runner: GroupRunner[Item, Outcome], max_group: int = 100) -> None:
        self._runner = runner
        # A bound on one transaction's length, so one huge burst cannot hold the write lock for long.
        self._max_group = max_group
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, outcome))
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._run_waiting())
        # Shielded: a caller that gives up (a client gone) must not cancel a transaction others share.
        return await asyncio.shield(outcome)

    async def _run_waiting(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
                await self._run_group(group)
        finally:
            self._running = None

    async def _run_group(self, group: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self._runner([item for item, _ in group])
        except Exception as exc:
            if len(group) > 1:
                # The transaction rolled back, so nothing in it was stored. One bad item must not cost the
                # others their write: each is tried again alone, and only the culprit hears the error.
                for one in group:
                    await self._run_group([one])
                return
            outcomes = [exc]
        except BaseException as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
