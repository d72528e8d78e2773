"""Limits aiohttp's server lacks: a deadline for each request to arrive, and a cap on open connections.

aiohttp bounds a body's size (`client_max_size`) and the lines of a header, but not how long a client may
take to send them, nor how many connections it holds: 400 connections trickling headers kept the bot's
memory growing and, at a low file-descriptor limit, starved `/healthz`. Each site here is a TCP listener
whose connections pass through `_Guarded`, a thin protocol in front of aiohttp's own:

- a connection must deliver a whole request (headers and body) within `read_seconds` of opening, and the
  next one within `read_seconds` of the last answer; otherwise it is closed (`abort`, nothing flushed);
- past `max_connections` open at once, a new connection gets a 503 and is closed at once;
- bodies read into memory are bounded all together (`BodyBudget`), besides each one's own size.

What happened is logged as one line per kind and minute, never one per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger("videobot.http")

# Above what a file-descriptor limit leaves once these are kept for the database, Slack, Perf and media.
RESERVED_DESCRIPTORS = 160
LOG_EVERY_SECONDS = 60.0
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    max_connections: int
    read_seconds: float


def connection_cap(wanted: int, others: int = 0) -> int:
    """`wanted`, lowered to fit the process's file-descriptor limit (with `others` kept for another port)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    fits = max(8, soft - RESERVED_DESCRIPTORS - others)
    if fits < wanted:
        log.warning("event=http_connection_cap_lowered wanted=%d cap=%d fd_limit=%d", wanted, fits, soft)
    return min(wanted, fits)


class _Tally:
    """Counts of dropped connections, logged at most once a minute per site (the first at once)."""

    def __init__(self, site: str) -> None:
        self._site = site
        self._counts: dict[str, int] = {}
        self._logged_at = float("-inf")

    def count(self, what: str, open_now: int) -> None:
        self._counts[what] = self._counts.get(what, 0) + 1
        now = asyncio.get_running_loop().time()
        if now - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = now
            counts = " ".join(f"{key}={value}" for key, value in sorted(self._counts.items()))
            log.warning("event=http_connections_dropped site=%s %s open=%d", self._site, counts, open_now)
            self._counts.clear()


class Guard:
    """One site's connections: how many are open, and each one's deadline."""

    def __init__(self, site: str, limits: Limits) -> None:
        self.site = site
        self.limits = limits
        self.open = 0
        self._tally = _Tally(site)
        self._connections: dict[asyncio.BaseTransport, _Guarded] = {}

    def protocol_factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, inner)

    def request_read(self, request: web.BaseRequest) -> None:
        """The request has fully arrived: its connection's deadline stops until it is answered."""
        guarded = self._connections.get(request.transport) if request.transport is not None else None
        if guarded is not None:
            guarded.disarm()

    def request_answered(self, request: web.BaseRequest) -> None:
        """The next request on this connection (keep-alive) has `read_seconds` from now to arrive."""
        guarded = self._connections.get(request.transport) if request.transport is not None else None
        if guarded is not None:
            guarded.arm()

    def close_unread(self) -> int:
        """At shutdown: close every connection still waiting for its request (a stalled one must not hold
        the stop up); those whose request arrived finish their answer. How many were closed."""
        waiting = [guarded for guarded in self._connections.values() if guarded.waiting]
        for guarded in waiting:
            guarded.abort()
        return len(waiting)

    def _opened(self, guarded: _Guarded, transport: asyncio.BaseTransport) -> bool:
        if self.open >= self.limits.max_connections:
            self._tally.count("over_cap", self.open)
            return False
        self.open += 1
        self._connections[transport] = guarded
        return True

    def _closed(self, transport: asyncio.BaseTransport) -> None:
        if self._connections.pop(transport, None) is not None:
            self.open -= 1

    def _too_slow(self) -> None:
        self._tally.count("too_slow", self.open)

    def middleware(self) -> Middleware:
        """Requests without a body have arrived once routed; every answer re-arms the connection's deadline."""

        @web.middleware
        async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.body_exists:
                self.request_read(request)
            try:
                return await handler(request)
            finally:
                self.request_answered(request)

        return guarded


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind a deadline and the site's cap."""

    def __init__(self, guard: Guard, inner: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_inner = inner
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if not self._guard._opened(self, transport):
            transport.write(_BUSY)
            transport.close()
            return
        self._transport = transport
        self._inner = self._make_inner()
        self.arm()
        self._inner.connection_made(transport)

    def arm(self) -> None:
        self.disarm()
        if self._transport is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._guard.limits.read_seconds, self._expire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def waiting(self) -> bool:
        """Its deadline runs: no request, or one not yet read whole."""
        return self._timer is not None

    def abort(self) -> None:
        self.disarm()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._guard._too_slow()
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self._transport is not None:
            self._guard._closed(self._transport)
            self._transport = None
        if self._inner is not None:
            self._inner.connection_lost(exc)
            self._inner = None


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through `guard` (aiohttp's TCPSite, with the protocol wrapped)."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: Guard) -> None:
        super().__init__(runner)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), self._host, self._port, backlog=self._backlog, reuse_address=True
        )


class BodyBudget:
    """The bytes of request bodies held in memory at once, across every connection of a site."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size
