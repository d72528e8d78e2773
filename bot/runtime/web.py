"""The HTTP servers: Slack's events on PORT (HTTP mode only), health and metrics on their own address.

The Slack port takes `POST /slack/events` and answers `GET /healthz` with ok or not ok, nothing more: it
faces the internet. Every request there is read under a deadline and a memory budget, then its signature
and age are checked before anything else happens (no log of its body, no parsing, no wake of the poller),
and a refused one is one log line and a 401. `/healthz` with its details, `/readyz` and `/metrics` are on
VIDEOBOT_HEALTH_ADDRESS, loopback unless the operator opens it.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import messages
from bot.clients.slack_workspaces import WorkspaceRef, acting_for
from bot.messages import Message
from bot.runtime.http_guard import BodyBudget, Guard, GuardedSite, Limits, connection_cap
from bot.runtime.installs import INSTALL_PATH, REDIRECT_PATH
from bot.runtime.metrics import CONTENT_TYPE
from bot.runtime.running import RunningServices
from handlers import commands

log = logging.getLogger("videobot.app")

# Slack refuses timestamps older than 5 minutes, so a signature need not be remembered longer (plus slack).
REPLAY_WINDOW_SECONDS = 6 * 60.0
SIGNATURE_MAX_AGE_SECONDS = 5 * 60
# One request's body (a message shortcut carries a message of up to 40,000 characters, twice, encoded), and
# the bodies of all requests held in memory at once.
MAX_BODY_BYTES = 1024 * 1024
BODIES_BUDGET_BYTES = 16 * 1024 * 1024
# The health address serves a supervisor, a probe and a scraper, not the public.
HEALTH_MAX_CONNECTIONS = 32
# At a stop, how long the requests being answered get (an ack takes well under Slack's 3 s).
SHUTDOWN_SECONDS = 3.0

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²" is a digit to str.isdigit()
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

Handler = Callable[[web.Request], Awaitable[web.Response]]
HealthChecks = dict[str, Callable[[], Awaitable[bool]]]


def build_slack_app(
    services: RunningServices, bolt: AsyncApp, guard: Guard | None = None, *, events: bool = True
) -> web.Application:
    """The public port: Slack's requests (`events`: not in Socket Mode), the install pages with many workspaces,
    and a `/healthz` for a load balancer that says only ok or not ok."""
    middlewares = [guard.middleware()] if guard is not None else []
    web_app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    if events:
        web_app.router.add_post("/slack/events", _slack_events(services, bolt, guard, BodyBudget(BODIES_BUDGET_BYTES)))
    if services.installs is not None:
        flow = services.installs.flow
        web_app.router.add_get(INSTALL_PATH, _install_page(flow.handle_installation))
        web_app.router.add_get(REDIRECT_PATH, _install_page(flow.handle_callback))
    web_app.router.add_get("/healthz", _public_healthz(services))
    return web_app


def _install_page(handle: Callable[[AsyncBoltRequest], Awaitable[BoltResponse]]) -> Handler:
    """Bolt's install flow, as a page of ours: the query and the cookie are all it reads (no body)."""

    async def page(request: web.Request) -> web.Response:
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): value for name, value in request.headers.items() if name.lower() == "cookie"
        }
        bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=headers)
        return await to_aiohttp_response(await handle(bolt_request))

    return page


def build_health_app(
    services: RunningServices, extra_health: HealthChecks | None = None, guard: Guard | None = None
) -> web.Application:
    """`extra_health` holds checks added once they exist (the Socket Mode connection); it may grow later."""
    middlewares = [guard.middleware()] if guard is not None else []
    web_app = web.Application(client_max_size=64 * 1024, middlewares=middlewares)
    web_app.router.add_get("/readyz", _readyz(services))
    if services.settings.metrics_enabled:
        web_app.router.add_get("/metrics", _metrics(services))
    web_app.router.add_get("/healthz", _healthz(services, extra_health if extra_health is not None else {}))
    return web_app


class ListenFailed(Exception):
    """A port could not be bound; the message names the setting that chose it."""


@dataclass
class Listening:
    """The running servers: the health port, and the Slack port in HTTP mode."""

    health_port: int
    slack_port: int | None = None
    runners: list[web.AppRunner] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)

    async def close(self) -> None:
        """Stop listening; requests being answered get SHUTDOWN_SECONDS, stalled ones are closed at once."""
        for guard in self.guards:
            guard.close_unread()
        for runner in reversed(self.runners):
            await runner.cleanup()


async def listen(
    services: RunningServices, bolt: AsyncApp | None, extra_health: HealthChecks, *, events: bool = True
) -> Listening:
    """Bind the health address, then (`bolt` given) the Slack port: Slack's events in HTTP mode (`events`), and
    the install pages with many workspaces (in Socket Mode too)."""
    settings = services.settings
    limits = Limits(HEALTH_MAX_CONNECTIONS, settings.http_read_timeout_seconds)
    health = Guard("health", limits)
    listening = Listening(health_port=0)
    try:
        listening.health_port = await _start(
            listening,
            build_health_app(services, extra_health, health),
            health,
            settings.health_host,
            settings.health_port,
            "VIDEOBOT_HEALTH_ADDRESS",
        )
        if bolt is not None:
            cap = connection_cap(settings.http_max_connections, others=HEALTH_MAX_CONNECTIONS)
            slack = Guard("slack", Limits(cap, settings.http_read_timeout_seconds))
            listening.slack_port = await _start(
                listening,
                build_slack_app(services, bolt, slack, events=events),
                slack,
                settings.host,
                settings.port,
                "PORT",
            )
    except BaseException:
        await listening.close()
        raise
    return listening


async def _start(listening: Listening, app: web.Application, guard: Guard, host: str, port: int, setting: str) -> int:
    # aiohttp's own idle limit too, the same as the guard's, so neither outlives the other.
    runner = web.AppRunner(
        app, access_log=None, keepalive_timeout=guard.limits.read_seconds, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    listening.runners.append(runner)
    listening.guards.append(guard)
    try:
        await GuardedSite(runner, host, port, guard).start()
    except OSError as exc:
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ListenFailed(
                f"{where} is already in use ({setting}): stop what is using it (another videobot?), or set "
                f"{setting} to a free one"
            ) from None
        raise ListenFailed(f"cannot listen on {where} ({setting}): {exc.strerror or exc}") from None
    return int(runner.addresses[0][1])


# --- Slack's requests ---------------------------------------------------------------------------------


def _refused(reason: str, status: int = 401) -> web.Response:
    """One line, never the body: what was refused and why."""
    log.warning("event=request_refused reason=%s status=%d", reason, status)
    return web.json_response({"error": "invalid request"}, status=status)


async def _read_body(request: web.Request, guard: Guard | None, budget: BodyBudget) -> bytes | web.Response:
    """The body, within MAX_BODY_BYTES and the site's budget (given back by the caller); else an answer."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        return _refused("too_large", 413)
    chunks: list[bytes] = []
    held = 0  # taken from the budget so far
    try:
        while chunk := await request.content.readany():
            if held + len(chunk) > MAX_BODY_BYTES:
                budget.give_back(held)
                return _refused("too_large", 413)
            if not budget.take(len(chunk)):
                budget.give_back(held)
                return _refused("busy", 503)
            held += len(chunk)
            chunks.append(chunk)
    except Exception as exc:
        # The connection closed (its deadline, the client) or its chunked encoding was broken.
        budget.give_back(held)
        log.info("event=request_dropped reason=unreadable error=%s", type(exc).__name__)
        return web.Response(status=400)
    except BaseException:
        budget.give_back(held)
        raise
    if guard is not None:
        guard.request_read(request)
    return b"".join(chunks)


def _signature_matches(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
    """Slack's scheme (v0 = HMAC-SHA256 of "v0:{timestamp}:{body}"), over the body's bytes: slack_sdk's
    verifier decodes them as UTF-8 first, and raised on a body that is not."""
    expected = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={expected}", signature)


def _refusal(secret: bytes, body: bytes, timestamp: str, signature: str) -> str:
    """Why a request is not Slack's (empty when it is): checked before anything reads its body."""
    if not timestamp or not signature:
        return "unsigned"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "malformed_timestamp"
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return "stale"
    if not _SIGNATURE.fullmatch(signature) or not _signature_matches(secret, body, timestamp, signature):
        return "bad_signature"
    return ""


def _slack_events(services: RunningServices, bolt: AsyncApp, guard: Guard | None, budget: BodyBudget) -> Handler:
    secret = services.settings.slack_signing_secret.encode()

    async def slack_events(request: web.Request) -> web.Response:
        body = await _read_body(request, guard, budget)
        if isinstance(body, web.Response):
            return body
        try:
            return await _signed_request(request, body)
        finally:
            budget.give_back(len(body))

    async def _signed_request(request: web.Request, raw: bytes) -> web.Response:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        reason = _refusal(secret, raw, timestamp, signature)
        if reason:
            return _refused(reason)
        # Only now, once it is Slack's: until it is answered, the jobs' steps and calls wait.
        with services.poller.acks.answering():
            return await _answered(request, raw, signature)

    async def _answered(request: web.Request, raw: bytes, signature: str) -> web.Response:
        # Slack signs each delivery afresh (retries included), so the same signature twice is a copy
        # replayed by someone who saw the request. The signature and its age were checked above; this adds
        # the memory a signature check lacks, kept in the database so it holds across restarts.
        if not await services.store.first_sighting(signature, services.clock.now(), REPLAY_WINDOW_SECONDS):
            log.warning("event=replayed_request_refused")
            return web.Response(status=401, text="replayed request")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refused("not_utf8", 400)
        command = _slash_command(request, body)
        if command is not None and command.get("command") == commands.COMMAND:
            # Verified above, so Bolt's dispatch (verification again, routing, authorization, request and
            # response conversions) would add nothing but about half of each ack's time.
            workspace = WorkspaceRef.of_payload(
                command.get("team_id"), command.get("enterprise_id"), command.get("is_enterprise_install")
            )
            installs = services.installs
            if installs is not None and await installs.tokens.bot_for(workspace) is None:
                log.info("event=command_refused code=not_installed team=%s", workspace.team_id or "-")
                with messages.speaking():  # no installation, so no channel's language: the deployment's
                    return _ack_response(messages.not_installed())
            with acting_for(workspace):
                return _ack_response(await commands.answer_video_command(services, command))
        try:
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=dict(request.headers))
        except (ValueError, RecursionError):
            return _refused("malformed_body", 400)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    return slack_events


def _slash_command(request: web.Request, body: str) -> dict[str, str] | None:
    if request.content_type != "application/x-www-form-urlencoded":
        return None
    fields = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    # Interactions arrive form-encoded too, with everything in `payload`; they are Bolt's.
    return fields if "command" in fields and "payload" not in fields else None


def _ack_response(message: Message) -> web.Response:
    """The HTTP answer Bolt's ack() gives: an empty 200, or the message as JSON."""
    if not message:
        return web.Response(status=200)
    return web.json_response(message)


# --- health and metrics -------------------------------------------------------------------------------


def _public_healthz(services: RunningServices) -> Handler:
    async def healthz(_: web.Request) -> web.Response:
        # From what the poller knows already: a probe here costs no query, and tells nothing but ok.
        healthy = services.poller.healthy()
        return web.json_response({"ok": healthy}, status=200 if healthy else 503)

    return healthz


def _at(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment is not None else None


def _healthz(services: RunningServices, extra: HealthChecks) -> Handler:
    async def healthz(_: web.Request) -> web.Response:
        poller = services.poller
        if poller.ticks_completing():
            ticks = "ok"
        else:
            ticks = "not running" if poller.last_tick_completed_at is None else "ticks not completing"
        parts: dict[str, str] = {"poller": ticks}
        try:
            parts["database"] = "ok" if await services.store.ping() else "unavailable"
        except Exception:
            parts["database"] = "unavailable"
        if poller.writes_failing():
            parts["writes"] = "failing"
        else:
            parts["writes"] = "ok" if poller.last_write_ok_at is not None else "not checked yet"
        for name, check in extra.items():
            try:
                parts[name] = "ok" if await check() else "disconnected"
            except Exception:
                parts[name] = "disconnected"
        healthy = all(value == "ok" for value in parts.values())
        # On the health address only: which database this replica reached (never its password), who it is
        # in the job leases, and when it last got through a tick and a write.
        about = {
            "last_tick_completed_at": _at(poller.last_tick_completed_at),
            "last_write_ok_at": _at(poller.last_write_ok_at),
            "last_write_error": poller.last_write_error or None,
            "database_at": services.store.description,
            "replica": poller.replica,
        }
        return web.json_response({"ok": healthy, **parts, **about}, status=200 if healthy else 503)

    return healthz


def _readyz(services: RunningServices) -> Handler:
    async def readyz(_: web.Request) -> web.Response:
        # The store is opened (and migrated) before the server starts; the poller must have run once.
        ready = services.poller.last_tick_completed_at is not None
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    return readyz


def _metrics(services: RunningServices) -> Handler:
    async def metrics(_: web.Request) -> web.Response:
        body = await services.metrics.render(services.store, services.quotas.today(services.clock.now()).bounds)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return metrics
