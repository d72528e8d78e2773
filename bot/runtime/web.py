"""The HTTP server: Slack's events (signed, replay-checked, `/video` answered without Bolt's dispatch),
health and readiness for supervisors, and `/metrics` when enabled."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot.messages import Message
from bot.runtime.metrics import CONTENT_TYPE
from bot.runtime.running import RunningServices
from handlers import commands

log = logging.getLogger("videobot.app")

# Slack refuses timestamps older than 5 minutes, so a signature need not be remembered longer (plus slack).
REPLAY_WINDOW_SECONDS = 6 * 60.0

Handler = Callable[[web.Request], Awaitable[web.Response]]


def build_web_app(
    services: RunningServices,
    bolt: AsyncApp | None,
    extra_health: dict[str, Callable[[], Awaitable[bool]]] | None = None,
) -> web.Application:
    """`extra_health` holds checks added once they exist (the Socket Mode connection); it may grow later."""
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_get("/readyz", _readyz(services))
    if services.settings.metrics_enabled:
        web_app.router.add_get("/metrics", _metrics(services))
    web_app.router.add_get("/healthz", _healthz(services, extra_health if extra_health is not None else {}))
    if bolt is not None:
        web_app.router.add_post("/slack/events", _slack_events(services, bolt))
    return web_app


def _healthz(services: RunningServices, extra: dict[str, Callable[[], Awaitable[bool]]]) -> Handler:
    async def healthz(_: web.Request) -> web.Response:
        parts: dict[str, str] = {"poller": "ok" if services.poller.healthy() else "not running"}
        try:
            parts["database"] = "ok" if await services.store.ping() else "unavailable"
        except Exception:
            parts["database"] = "unavailable"
        for name, check in extra.items():
            try:
                parts[name] = "ok" if await check() else "disconnected"
            except Exception:
                parts[name] = "disconnected"
        healthy = all(value == "ok" for value in parts.values())
        # Which database this replica reached (never its password) and who it is in the job leases.
        about = {"database_at": services.store.description, "replica": services.poller.replica}
        return web.json_response({"ok": healthy, **parts, **about}, status=200 if healthy else 503)

    return healthz


def _readyz(services: RunningServices) -> Handler:
    async def readyz(_: web.Request) -> web.Response:
        # The store is opened (and migrated) before the server starts; the poller must have run once.
        ready = services.poller.last_tick_at is not None
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    return readyz


def _metrics(services: RunningServices) -> Handler:
    async def metrics(_: web.Request) -> web.Response:
        body = await services.metrics.render(services.store, services.quotas.today(services.clock.now()).bounds)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return metrics


def _slack_events(services: RunningServices, bolt: AsyncApp) -> Handler:
    verifier = SignatureVerifier(services.settings.slack_signing_secret)

    async def slack_events(request: web.Request) -> web.Response:
        services.poller.slack_waiting()
        body = await request.text()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        signed = _signed(verifier, body, timestamp, signature)
        # Slack signs each delivery afresh (retries included), so the same signature twice is a copy
        # replayed by someone who saw the request. Bolt checks the signature and its age; this adds
        # the memory Bolt lacks, kept in the database so it holds across restarts.
        if signed and not await services.store.first_sighting(signature, services.clock.now(), REPLAY_WINDOW_SECONDS):
            log.warning("event=replayed_request_refused")
            return web.Response(status=401, text="replayed request")
        command = _slash_command(request, body) if signed else None
        if command is not None and command.get("command") == commands.COMMAND:
            # Verified above, so Bolt's dispatch (verification again, routing, request and response
            # conversions) would add nothing but about half of each ack's time.
            return _ack_response(await commands.answer_video_command(services, command))
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

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


def _signed(verifier: SignatureVerifier, body: str, timestamp: str, signature: str) -> bool:
    if not timestamp.isdigit() or not signature:
        return False  # Bolt answers these with 401
    return verifier.is_valid(body, timestamp, signature)
