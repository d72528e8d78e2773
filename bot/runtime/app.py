"""The composition root: builds every service once, wires the listeners, serves HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot import messages
from bot.clients.media import MediaFetcher
from bot.clients.pacing import Pacer
from bot.clients.perf import PerfClient
from bot.clients.slack import SlackGateway, make_web_client
from bot.domain.clock import Clock, SystemClock
from bot.domain.settings import Settings
from bot.features.control import JobControl
from bot.features.home import HomeService
from bot.features.people import People
from bot.features.reports import ReportService
from bot.features.reruns import RerunService
from bot.jobs.poller import Poller
from bot.jobs.quotas import Quotas
from bot.jobs.service import JobService
from bot.messages import Message
from bot.runtime.metrics import CONTENT_TYPE, Metrics
from handlers import commands, register_all
from handlers.services import Services
from storage.db import Store

log = logging.getLogger("videobot.app")

SHUTDOWN_GRACE_SECONDS = 5.0
SLACK_EDITS_GRACE_SECONDS = 2.0
# Slack refuses timestamps older than 5 minutes, so a signature need not be remembered longer (plus slack).
REPLAY_WINDOW_SECONDS = 6 * 60.0


@contextlib.asynccontextmanager
async def open_services(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningServices]:
    """Open the database and every client; close them all on exit, whatever happened."""
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        store = await Store.open(settings.database_url)
        if store.engine == "sqlite":
            # SQLite serves one process: leases left in it are a killed run's, and waiting them out helps nobody.
            await store.release_all_leases(None)
        stack.push_async_callback(store.close)
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        transfer = MediaFetcher.make_http_client()
        stack.push_async_callback(transfer.aclose)
        metrics = Metrics()
        perf = PerfClient(
            PerfClient.make_http_client(
                settings.perf_api_url,
                settings.perf_api_key,
                event_hooks={"request": [metrics.perf_request], "response": [metrics.perf_response]},
            )
        )
        stack.push_async_callback(perf.aclose)

        slack = SlackGateway(
            make_web_client(settings.slack_bot_token, settings.slack_api_url, session),
            transfer,
            session,
            on_call=metrics.slack_call,
            pacer=Pacer(settings.slack_pace),
            plain_text=messages.plain_text_version,
        )
        # After the poller has stopped: the edits its last steps asked for get a moment to go out.
        stack.push_async_callback(slack.close, SLACK_EDITS_GRACE_SECONDS)
        media = MediaFetcher(transfer, settings.media_hosts, settings.max_video_mb * 1_000_000)
        quotas = Quotas(store, settings)
        people = People(slack, clock)
        home = HomeService(store, quotas, people, slack, clock, settings)
        # Runs after the poller has stopped (callbacks run last-in first-out) and before the database closes.
        stack.push_async_callback(home.wait_idle)
        jobs = JobService(store, perf, slack, media, clock, settings, quotas)
        # Before the gateway closes: progress posts on their way get their answer recorded.
        stack.push_async_callback(jobs.close, SLACK_EDITS_GRACE_SECONDS)
        jobs.on_delivered = metrics.job_delivered
        jobs.on_state_change = home.job_changed
        poller = Poller(
            store, jobs, clock, settings.poll_tick_seconds, settings.poll_concurrency, settings.lease_seconds
        )
        # Stopped before the database closes, however the block is left (serve() stops it earlier, with grace).
        stack.push_async_callback(poller.stop, 0.0)
        reruns = RerunService(store, jobs, slack, people, settings, clock)
        reports = ReportService(store, quotas, people, slack, clock, settings)
        poller.run_daily(settings.report_time, settings.timezone, reports.post_due_reports)
        yield RunningServices(
            settings=settings,
            store=store,
            jobs=jobs,
            poller=poller,
            slack=slack,
            people=people,
            reruns=reruns,
            reports=reports,
            clock=clock,
            metrics=metrics,
            quotas=quotas,
            control=JobControl(store, people, clock),
            home=home,
        )


@dataclass(frozen=True)
class RunningServices(Services):
    """The listeners' services and what only the runtime uses: the metrics behind `/metrics`."""

    metrics: Metrics


def build_bolt_app(services: Services) -> AsyncApp:
    settings = services.settings
    app = AsyncApp(
        client=services.slack.client,
        signing_secret=settings.slack_signing_secret,
        # Socket Mode messages arrive over an authenticated websocket and carry no signature.
        request_verification_enabled=not settings.socket_mode,
        # Answer Slack only once a listener has finished its durable write. An event whose handling
        # crashes then gets a 500 and Slack delivers it again, and the job_triggers keys make the
        # redelivery harmless. Every listener does only a database write and at most one cached
        # users.info before answering, well within Slack's 3 seconds.
        process_before_response=True,
    )

    @app.middleware
    async def acks_first(next: Callable[[], Awaitable[None]]) -> None:
        # Over HTTP slack_events has said so already; Socket Mode's requests only pass here.
        services.poller.slack_waiting()
        await next()

    register_all(app, services)
    return app


def build_web_app(
    services: RunningServices,
    bolt: AsyncApp | None,
    extra_health: dict[str, Callable[[], Awaitable[bool]]] | None = None,
) -> web.Application:
    """`extra_health` holds checks added once they exist (the Socket Mode connection); it may grow later."""
    web_app = web.Application(client_max_size=1024 * 1024)
    extra = extra_health if extra_health is not None else {}

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

    async def readyz(_: web.Request) -> web.Response:
        # The store is opened (and migrated) before the server starts; the poller must have run once.
        ready = services.poller.last_tick_at is not None
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = await services.metrics.render(services.store, services.quotas.today(services.clock.now()).bounds)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    web_app.router.add_get("/readyz", readyz)
    if services.settings.metrics_enabled:
        web_app.router.add_get("/metrics", metrics)
    web_app.router.add_get("/healthz", healthz)
    if bolt is not None:
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
            if signed and not await services.store.first_sighting(
                signature, services.clock.now(), REPLAY_WINDOW_SECONDS
            ):
                log.warning("event=replayed_request_refused")
                return web.Response(status=401, text="replayed request")
            command = _slash_command(request, body) if signed else None
            if command is not None and command.get("command") == commands.COMMAND:
                # Verified above, so Bolt's dispatch (verification again, routing, request and response
                # conversions) would add nothing but about half of each ack's time.
                return _ack_response(await commands.answer_video_command(services, command))
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        web_app.router.add_post("/slack/events", slack_events)
    return web_app


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with open_services(settings) as services:
        bolt = build_bolt_app(services)
        extra_health: dict[str, Callable[[], Awaitable[bool]]] = {}
        runner = web.AppRunner(
            build_web_app(services, None if settings.socket_mode else bolt, extra_health), access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.port
        socket_handler = None
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
            await socket_handler.connect_async()
            extra_health["slack_socket"] = socket_handler.client.is_connected
            log.info("event=started mode=socket healthz_port=%d", port)
        else:
            log.info("event=started mode=http port=%d path=/slack/events", port)
        services.poller.start()
        # A machine-readable line for supervisors and tests that start the bot on port 0.
        print(f"videobot listening on port {port}", flush=True)
        try:
            await stop.wait()
        finally:
            log.info("event=stopping grace_seconds=%.0f", SHUTDOWN_GRACE_SECONDS)
            if socket_handler is not None:
                await socket_handler.close_async()
            await services.poller.stop(SHUTDOWN_GRACE_SECONDS)
            await runner.cleanup()
    log.info("event=stopped")


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
