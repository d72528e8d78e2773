"""The composition root: builds every service once, wires the listeners, serves HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.clients.media import MediaFetcher
from bot.clients.pacing import Cell, Pacer, SharedBudget
from bot.clients.perf import PerfClient
from bot.clients.slack import SlackGateway, make_web_client
from bot.clients.slack_api import error_code
from bot.clients.slack_workspaces import SingleToken, TokenSource, WorkspaceRef, acting_for, current_workspace
from bot.domain.clock import Clock, SystemClock
from bot.domain.job import Job
from bot.domain.settings import Settings
from bot.features.approvals import ApprovalDesk
from bot.features.budgets import BudgetWatch
from bot.features.control import JobControl
from bot.features.defaults import DefaultsService
from bot.features.home import HomeService
from bot.features.people import NamedAnswers, People
from bot.features.presets import PresetService
from bot.features.recall import RecallService
from bot.features.remixes import RemixService
from bot.features.reports import ReportService
from bot.features.reruns import RerunService
from bot.features.takes import TakePoster
from bot.features.workspaces import WorkspaceRemoval
from bot.jobs.maintenance import Maintenance
from bot.jobs.poller import Poller
from bot.jobs.quotas import Quotas
from bot.jobs.service import JobService
from bot.runtime.installs import Installs, build_installs
from bot.runtime.metrics import Metrics
from bot.runtime.perf_keys import forgetting_store, perf_keys, workspace_settings
from bot.runtime.running import RunningServices
from bot.runtime.tokens import FIXES as TOKEN_FIXES
from bot.runtime.tokens import REFUSED_TOKEN_ERRORS, ask_slack
from bot.runtime.web import ListenFailed, build_health_app, build_slack_app, listen
from handlers import register_all
from handlers.services import Services
from storage.db import Store

__all__ = [
    "ListenFailed",
    "MigrateFirst",
    "RunningServices",
    "SlackRefused",
    "build_bolt_app",
    "build_health_app",
    "build_slack_app",
    "open_services",
    "serve",
]

log = logging.getLogger("videobot.app")

SHUTDOWN_GRACE_SECONDS = 5.0
# `videobot run` migrates a database of at most this many jobs itself (a fresh one, a trial's: well under a
# second); a larger one waits for `videobot migrate`, so a long upgrade never holds a start it cannot report.
RUN_MIGRATES_AT_MOST_JOBS = 10_000
MAINTENANCE_TIME = (4, 0)
# How often a showcase or share left unposted by a crash is looked for (a claim lapses after the lease).
TAKES_RESUME_SECONDS = 60.0
SLACK_EDITS_GRACE_SECONDS = 2.0


@contextlib.asynccontextmanager
async def open_services(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningServices]:
    """Open the database and every client; close them all on exit, whatever happened.

    Each piece registers its own closing as it opens: callbacks run last-in first-out, so the poller stops
    first, then the job machine and Home finish what they started, then the clients and the database close.
    """
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        store = await _open_store(stack, settings)
        metrics = Metrics()
        store.workspaces_share_line = settings.many_workspaces  # the operator's line: turns by workspace first
        installs = build_installs(settings, store) if settings.many_workspaces else None
        # Replicas share one database, and with it one Slack budget per workspace (issue 27); SQLite's one
        # process paces alone.
        shared = StoreBudget(store) if store.engine == "postgresql" else None
        perf, slack, media = await _open_clients(stack, settings, metrics, installs, shared)
        yield _wire(stack, settings, clock, store, perf, slack, media, metrics, installs)


class MigrateFirst(Exception):
    """The schema is behind and the database too large to upgrade inside a start; the message says what to do."""


# With many workspaces, how often the reports due at each workspace's own time are looked for.
REPORTS_CHECK_SECONDS = 300.0


async def _open_store(stack: contextlib.AsyncExitStack, settings: Settings) -> Store:
    store = await Store.open(
        settings.database_url,
        migrate=False,
        connect_timeout=settings.db_connect_timeout_seconds,
        acquire_timeout=settings.db_acquire_timeout_seconds,
    )
    stack.push_async_callback(store.close)
    pending = await store.pending_migrations()
    if pending:
        jobs = await store.job_count(at_most=RUN_MIGRATES_AT_MOST_JOBS + 1)
        if jobs > RUN_MIGRATES_AT_MOST_JOBS:
            version = await store.schema_version()
            raise MigrateFirst(
                f"{store.description} is at schema version {version} and {pending} migration(s) are pending on "
                f"more than {RUN_MIGRATES_AT_MOST_JOBS:,} jobs: run `videobot migrate` first (it reports its "
                "progress), then start the bot again"
            )
        await store.migrate()
    if store.engine == "sqlite":
        # SQLite serves one process: leases left in it are a killed run's, and waiting them out helps nobody.
        await store.release_all_leases(None)
    # Rows stored before the workspace was in every key, whose workspace the jobs now name (storage/adoption.py).
    await store.adopt_rows_from_jobs()
    return store


class StoreBudget:
    """The pacer's shared buckets (`bot.clients.pacing.SharedBudget`), kept in the store's `slack_buckets`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def take(self, cells: Sequence[Cell]) -> float:
        return await self._store.take_slack_cells(cells)

    async def hold(self, lane: str, seconds: float) -> None:
        await self._store.hold_slack_bucket(lane, seconds)


async def _open_clients(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    metrics: Metrics,
    installs: Installs | None,
    shared: SharedBudget | None = None,
) -> tuple[PerfClient, SlackGateway, MediaFetcher]:
    session = aiohttp.ClientSession()
    stack.push_async_callback(session.close)
    transfer = MediaFetcher.make_http_client()
    stack.push_async_callback(transfer.aclose)
    perf = PerfClient(
        PerfClient.make_http_client(
            settings.perf_api_url,
            settings.perf_api_key,
            event_hooks={"request": [metrics.perf_request], "response": [metrics.perf_response]},
        )
    )
    stack.push_async_callback(perf.aclose)
    # One code path for both modes: each call's token comes from `tokens` as it is sent (one workspace: the
    # configured token; many: the installation's), and the pacer's buckets are per workspace.
    tokens: TokenSource = installs.tokens if installs is not None else SingleToken(settings.slack_bot_token)
    slack = SlackGateway(
        make_web_client(settings.slack_bot_token, settings.slack_api_url, session),
        transfer,
        session,
        on_call=metrics.slack_call,
        pacer=Pacer(settings.slack_pace, scope=lambda: tokens.pacing_key(current_workspace()), shared=shared),
        plain_text=messages.plain_text_version,
        tokens=tokens,
    )
    # After the poller has stopped: the edits its last steps asked for get a moment to go out.
    stack.push_async_callback(slack.close, SLACK_EDITS_GRACE_SECONDS)
    media = MediaFetcher(
        transfer, settings.media_hosts, settings.max_video_mb * 1_000_000, settings.max_spool_mb * 1_000_000
    )
    return perf, slack, media


def _wire(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    clock: Clock,
    store: Store,
    perf: PerfClient,
    slack: SlackGateway,
    media: MediaFetcher,
    metrics: Metrics,
    installs: Installs | None = None,
) -> RunningServices:
    quotas = Quotas(store, settings)
    # The workspace's language (VIDEOBOT_LANGUAGE): whoever's own is not known yet is answered in it.
    messages.configure(settings.language)
    people = People(slack, clock, store=store)
    # Locales still being asked when the bot stops are given up: the next process asks again.
    stack.push_async_callback(people.close)
    takes = TakePoster(store, slack, media, clock, settings)
    stack.push_async_callback(takes.wait_idle)
    named = NamedAnswers(people, slack)
    # A report's names still on their way when the bot stops are given up: the ack already answered.
    stack.push_async_callback(named.close)
    keys = perf_keys(settings, store, clock)
    settings_for = workspace_settings(settings, store, clock)
    home = HomeService(store, quotas, people, slack, clock, settings, keys=keys, perf=perf, settings_for=settings_for)
    stack.push_async_callback(home.wait_idle)
    jobs = JobService(
        store, perf, slack, media, clock, settings, quotas, keys, workspace_settings(settings, store, clock)
    )
    # Before the gateway closes: progress posts on their way get their answer recorded.
    stack.push_async_callback(jobs.close, SLACK_EDITS_GRACE_SECONDS)
    jobs.on_delivered = metrics.job_delivered
    budgets = BudgetWatch(store, quotas, people, named, slack, clock, settings, settings_for)
    stack.push_async_callback(budgets.wait_idle)
    jobs.on_state_change = _both(home.job_changed, budgets.job_changed)
    poller = Poller(store, jobs, clock, settings.poll_tick_seconds, settings.poll_concurrency, settings.lease_seconds)
    # Stopped before the database closes, however the block is left (serve() stops it earlier, with grace).
    stack.push_async_callback(poller.stop, 0.0)
    reports = ReportService(store, quotas, people, named, slack, clock, settings, settings_for, keys)
    poller.run_daily(settings.report_time, settings.timezone, reports.post_due_reports)
    if settings.many_workspaces:
        # Each workspace's reports at its own time in its own zone (`/video admin set report-time`, `timezone`):
        # looked for every few minutes; a day's report is claimed before it is posted, so it goes out once.
        poller.run_every(REPORTS_CHECK_SECONDS, reports.post_due_reports)
    # At night, and once at start: retention's deletes and giving their space back, off every command's path.
    maintenance = Maintenance(
        store, clock, settings.retention_days, settings=settings, workspaces=forgetting_store(settings, store)
    )
    poller.run_daily(MAINTENANCE_TIME, settings.timezone, maintenance.run)
    # A showcase or share claimed by a process that died before posting it: finished once its lease lapses.
    poller.run_every(TAKES_RESUME_SECONDS, takes.resume)
    workspaces = WorkspaceRemoval(
        store,
        clock,
        settings,
        installations=installs.installations if installs is not None else None,
        forget=installs.tokens.forget if installs is not None else lambda enterprise_id, team_id: None,
    )
    # Its Perf key goes with its tokens (issue 25: "delete that workspace's tokens and Perf key at once").
    workspaces.on_workspace_gone.append(keys.workspace_gone)
    return RunningServices(
        settings=settings,
        installs=installs,
        workspaces=workspaces,
        store=store,
        jobs=jobs,
        poller=poller,
        slack=slack,
        people=people,
        named=named,
        reruns=RerunService(store, jobs, slack, people, settings, clock),
        remixes=RemixService(store, jobs, slack),
        recall=RecallService(store, people, slack),
        reports=reports,
        clock=clock,
        metrics=metrics,
        maintenance=maintenance,
        quotas=quotas,
        control=JobControl(store, people, clock),
        home=home,
        budgets=budgets,
        approvals=ApprovalDesk(store, people, clock, settings),
        defaults=DefaultsService(store, people, clock),
        presets=PresetService(store, people, clock),
        takes=takes,
    )


def _both(first: Callable[[Job], None], second: Callable[[Job], None]) -> Callable[[Job], None]:
    """One listener telling two (App Home's refresh, the budgets' 80% notices)."""

    def tell(job: Job) -> None:
        first(job)
        second(job)

    return tell


def build_bolt_app(services: Services) -> AsyncApp:
    settings = services.settings
    installs = services.installs if isinstance(services, RunningServices) else None
    many: dict[str, Any] = {}
    if installs is not None:
        with messages.speaking():  # no installation, so no channel's language: the deployment's
            not_installed = messages.not_installed()["text"]
        # Passed explicitly: otherwise Bolt, seeing SLACK_CLIENT_ID in the environment, builds file stores.
        many = {
            "oauth_flow": installs.flow,
            "authorize": installs.authorize,
            # What a person of a workspace with no installation is told (Bolt's own apologises vaguely).
            "user_facing_authorize_error_message": not_installed,
        }
    app = AsyncApp(
        client=services.slack.client,
        signing_secret=settings.slack_signing_secret,
        **many,
        # Off in both modes: Socket Mode messages arrive over an authenticated websocket and carry no
        # signature, and in HTTP mode bot/runtime/web.py checks every request's signature and age over its raw
        # bytes before anything reaches Bolt (Bolt's own check would only compute the same HMAC again).
        request_verification_enabled=False,
        # Answer Slack only once a listener has finished its durable write. An event whose handling
        # crashes then gets a 500 and Slack delivers it again, and the job_triggers keys make the
        # redelivery harmless. Every listener does only a database write and at most one cached
        # users.info before answering, well within Slack's 3 seconds.
        process_before_response=True,
    )

    @app.middleware
    async def acks_first(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        # Over HTTP slack_events counts the request already (this adds nothing); Socket Mode's only pass here.
        # Every Slack call the listener makes (and the tasks it starts) is this workspace's: in a Slack Connect
        # channel, the workspace of the person who acted.
        workspace = WorkspaceRef.of_payload(context.team_id, context.enterprise_id, context.is_enterprise_install)
        with services.poller.acks.answering(), acting_for(workspace):
            await next()

    register_all(app, services)
    dispatch = app.async_dispatch

    async def dispatch_in_their_language(req: AsyncBoltRequest) -> BoltResponse:
        # Everything said privately to the person who typed, clicked or opened something is in their
        # language (their Slack locale, remembered; never asked of Slack here). Channel messages of a job are
        # in the job's own language, whoever's request built them. Around the whole dispatch, not in a
        # middleware: Bolt runs the listeners after its middleware chain has returned.
        team_id, user_id = _who(req.body)
        language = await services.people.language(team_id, user_id) if user_id else None
        with messages.speaking(language):
            return await dispatch(req)

    app.async_dispatch = dispatch_in_their_language  # type: ignore[method-assign]
    return app


def _who(body: dict[str, Any]) -> tuple[str, str]:
    """The workspace and the person a request from Slack comes from ("" when none: a bot's message)."""
    event: dict[str, Any] = body["event"] if isinstance(body.get("event"), dict) else {}
    user: dict[str, Any] = body["user"] if isinstance(body.get("user"), dict) else {}
    team: dict[str, Any] = body["team"] if isinstance(body.get("team"), dict) else {}
    user_id = body.get("user_id") or user.get("id") or (event.get("user") if isinstance(event.get("user"), str) else "")
    team_id = body.get("team_id") or team.get("id") or user.get("team_id") or ""
    return str(team_id or ""), str(user_id or "")


def _say(line: str) -> None:
    """One write, line and end together: a log line on stderr (the same pipe, often) never lands inside it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SlackRefused(Exception):
    """Slack refused a token for good; the message names the setting and how to get a good one."""


async def _refuse_bad_tokens(settings: Settings) -> str:
    """Before anything is opened: a token Slack refuses stops the start with one line naming it. The bot
    token's workspace, where Slack said ("" otherwise)."""
    answers = await ask_slack(settings)
    refused = [answer for answer in answers if answer.refused]
    if refused:
        raise SlackRefused("; ".join(answer.detail for answer in refused))
    for answer in answers:
        if not answer.ok:
            # Not a verdict on the token: the clients retry, and the bot serves once Slack answers.
            log.warning("event=slack_not_checked setting=%s detail=%s", answer.setting, answer.detail)
    return next((answer.team_id for answer in answers if answer.team_id), "")


def _stop_when_slack_refuses_the_app_token(handler: Any, refused: Callable[[str], None]) -> None:
    """Told when a reconnect finds the app token refused for good (revoked while the bot ran): Slack's Socket
    Mode client would retry it forever, logging a traceback every ten seconds and never serving again.

    The client has no hook for this: its one way to a new address is wrapped, and the error still raised."""
    client = handler.client
    issue = client.issue_new_wss_url

    async def issue_or_tell() -> str:
        try:
            url: str = await issue()
        except SlackApiError as exc:
            if error_code(exc) in REFUSED_TOKEN_ERRORS:
                refused(error_code(exc))
            raise
        return url

    client.issue_new_wss_url = issue_or_tell


def _freeze_what_lives_forever() -> None:
    """What was built to start (modules, the Bolt app, the clients, the pools) lives as long as the process:
    moved out of the collector's sight, a full collection no longer walks it. Before, each one walked some
    85,000 objects and held the event loop 16-90 ms, every 10-20 s of a busy bot, and every ack in flight
    waited: a burst it fell in had twice its p99. Now they take 5-8 ms (`python -m bench.ack_bursts`)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, which stop it within seconds at any point: while starting (checking
    the tokens, migrating, connecting to Slack) the start is abandoned; once serving, the bot stops with
    SHUTDOWN_GRACE_SECONDS for the work in hand."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    serving = False
    refusals: list[str] = []

    def app_token_refused(code: str) -> None:
        log.error("event=slack_refused setting=SLACK_APP_TOKEN error=%s", code)
        refusals.append(f"Slack refused SLACK_APP_TOKEN ({code}) while the bot ran: {TOKEN_FIXES['SLACK_APP_TOKEN']}")
        stop.set()

    def on_signal() -> None:
        stop.set()
        if not serving and main is not None:
            # Nothing reads `stop` before the bot serves: a start waiting on Slack or the database would
            # otherwise hold the process until it finished (the Socket Mode client retries forever).
            main.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        team_id = await _refuse_bad_tokens(settings)
        async with open_services(settings) as services:
            # Single-workspace mode: rows an upgrade could not give a workspace are the bot token's.
            await services.store.adopt_rows(team_id)
            bolt = build_bolt_app(services)
            extra_health: dict[str, Callable[[], Awaitable[bool]]] = {}
            # Health first, then Slack's port, which only HTTP mode binds: Socket Mode needs nothing to reach it.
            # In Socket Mode the port is bound only for the install pages (many workspaces).
            port_needed = not settings.socket_mode or services.installs is not None
            listening = await listen(
                services, bolt if port_needed else None, extra_health, events=not settings.socket_mode
            )
            socket_handler = None
            try:
                # Machine-readable lines for supervisors and for tests that start the bot on port 0.
                _say(f"videobot health on port {listening.health_port}")
                if settings.socket_mode:
                    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

                    socket_handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
                    _stop_when_slack_refuses_the_app_token(socket_handler, app_token_refused)
                    await socket_handler.connect_async()
                    extra_health["slack_socket"] = socket_handler.client.is_connected
                    log.info("event=started mode=socket health=%s:%d", settings.health_host, listening.health_port)
                else:
                    log.info(
                        "event=started mode=http port=%d path=/slack/events health=%s:%d",
                        listening.slack_port,
                        settings.health_host,
                        listening.health_port,
                    )
                # One tick before saying so: /healthz and /readyz are true from the first probe after the line below.
                with contextlib.suppress(Exception):
                    await services.poller.tick()
                serving = True
                services.poller.start()
                _freeze_what_lives_forever()
                if listening.slack_port is not None:
                    _say(f"videobot listening on port {listening.slack_port}")
                if settings.socket_mode:
                    _say("videobot connected over Socket Mode")
                await stop.wait()
                if refusals:
                    raise SlackRefused(refusals[0])
            finally:
                log.info("event=stopping grace_seconds=%.0f", SHUTDOWN_GRACE_SECONDS if serving else 0)
                if socket_handler is not None:
                    await socket_handler.close_async()
                await services.poller.stop(SHUTDOWN_GRACE_SECONDS if serving else 0.0)
                await listening.close()
    except asyncio.CancelledError:
        if not stop.is_set() or main is None:
            raise
        # Stopped by a signal before it served: that is the stop asked for, not a failure.
        main.uncancel()
        log.info("event=stopped_while_starting")
        return
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("event=stopped")
