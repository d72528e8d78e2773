"""Coalesced edits: each message has at most one edit waiting, and a newer one replaces it unsent.

One task per message sends its newest content when the `chat.update` lane gives it a turn; a 429 holds
the whole lane and the edit waits again (merged with anything newer); an edit nobody waits for is
asked `still_wanted` just before it goes, so a stale "33 %" cannot overwrite "✅ Done".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.clients.pacing import Pacer, Priority, Ticket
from bot.clients.slack_api import MAX_RATE_LIMITED_TRIES, Message, RateLimited, SlackCallError

log = logging.getLogger("videobot.slack")


@dataclass(eq=False)
class PendingEdit:
    """The newest content for one message, waiting for its turn; older content was dropped unsent."""

    message: Message
    ticket: Ticket
    label: str
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    # Asked just before an edit nobody waits for is sent: another replica may have made it stale meanwhile.
    still_wanted: Callable[[], Awaitable[bool]] | None = None


# Sends one edit now (the caller has had its turn); raises RateLimited or SlackCallError.
SendEdit = Callable[[str, str, PendingEdit], Awaitable[None]]

_Key = tuple[str, str]  # (channel, ts)


class EditQueue:
    def __init__(self, pacer: Pacer, send: SendEdit) -> None:
        self._pacer = pacer
        self._send = send
        self._pending: dict[_Key, PendingEdit] = {}
        self._editors: dict[_Key, asyncio.Task[None]] = {}

    def queue(
        self,
        channel: str,
        ts: str,
        message: Message,
        priority: Priority,
        label: str,
        done: asyncio.Future[None] | None = None,
        still_wanted: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        key = (channel, ts)
        fields = {k: v for k, v in message.items() if k in ("text", "blocks")}
        fields.setdefault("blocks", [])
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = PendingEdit(fields, Ticket(priority), label)
        else:
            pending.message, pending.label = fields, label or pending.label
            pending.ticket.priority = min(pending.ticket.priority, priority)
        # The newest content decides whether it is still wanted.
        pending.still_wanted = still_wanted
        if done is not None:
            pending.waiters.append(done)
        editor = self._editors.get(key)
        if editor is None or editor.done():
            self._editors[key] = asyncio.get_running_loop().create_task(self._send_edits(key), name=f"edit-{ts}")

    async def _send_edits(self, key: _Key) -> None:
        """Send the newest content of one message, one edit at a time, until none is waiting."""
        try:
            while (pending := self._pending.get(key)) is not None:
                for _ in range(MAX_RATE_LIMITED_TRIES):
                    await self._pacer.turn("chat.update", "", pending.ticket)
                    # Whatever arrived while this edit waited replaced it: send the newest, drop the rest.
                    pending = self._pending.pop(key)
                    try:
                        await self._send_unless_stale(key, pending)
                    except RateLimited as limited:
                        await self._pacer.hold("chat.update", "", limited.retry_after)
                        pending = self._requeue(key, pending)
                        continue
                    break
                else:
                    _settle(self._pending.pop(key, pending), SlackCallError("chat.update", "ratelimited"))
        finally:
            self._editors.pop(key, None)
            leftover = self._pending.pop(key, None)
            for waiter in leftover.waiters if leftover else []:
                if not waiter.done():
                    waiter.cancel()

    async def _send_unless_stale(self, key: _Key, pending: PendingEdit) -> None:
        """Send one edit and settle it; only RateLimited goes back to the caller, to wait and try again."""
        try:
            if not pending.waiters and pending.still_wanted is not None and not await pending.still_wanted():
                return  # stale: a newer state was shown by whoever made it
            await self._send(*key, pending)
        except RateLimited:
            raise
        except SlackCallError as exc:
            _settle(pending, exc)
        except Exception as exc:
            log.exception("%s event=edit_crashed error=%s", pending.label, type(exc).__name__)
            _settle(pending, SlackCallError("chat.update", f"internal_error:{type(exc).__name__}"))
        except BaseException:
            _settle(pending, SlackCallError("chat.update", "cancelled"))
            raise
        else:
            _settle(pending, None)

    def _requeue(self, key: _Key, refused: PendingEdit) -> PendingEdit:
        """A 429'd edit waits again, unless a newer one came meanwhile: then that one goes, for both."""
        newer = self._pending.get(key)
        if newer is None:
            self._pending[key] = refused
            return refused
        newer.waiters.extend(refused.waiters)
        newer.ticket.priority = min(newer.ticket.priority, refused.ticket.priority)
        return newer

    async def wait_idle(self) -> None:
        """Until every edit asked for has been sent or has failed (tests, and a clean shutdown)."""
        while self._editors:
            await asyncio.gather(*list(self._editors.values()), return_exceptions=True)

    async def close(self, grace_seconds: float) -> None:
        editors = list(self._editors.values())
        if editors:
            _, late = await asyncio.wait(editors, timeout=grace_seconds) if grace_seconds > 0 else (set(), editors)
            for task in late:
                task.cancel()
            await asyncio.gather(*editors, return_exceptions=True)


def _settle(pending: PendingEdit, error: SlackCallError | None) -> None:
    """Tell whoever waits for this edit how it went; an edit nobody waits for is logged when it fails."""
    waiting = [w for w in pending.waiters if not w.done()]
    for waiter in waiting:
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
    if error is not None and not waiting:
        log.warning("%s event=edit_failed error=%s", pending.label, error.error)
