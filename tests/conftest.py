"""Shared fixtures: the fakes on 127.0.0.1, and an in-process bot driven by a fake clock."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypedDict, Unpack
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.domain.job import Job
from bot.domain.settings import Settings
from bot.runtime.app import RunningServices, build_bolt_app, open_services
from tests.fakes.databases import ENGINES, fresh_database
from tests.fakes.jobs import CHANNEL as CHANNEL  # re-exported: tests take it from here
from tests.fakes.jobs import USER as USER
from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.process import SIGNING_SECRET as SIGNING_SECRET
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

# How much faster than real time Slack's limits run in the suite (both the fake's and the bot's pacer).
SLACK_SPEED = 10.0
# A deadline, not a wait: how long a stopping bot's steps in flight may take to finish (they take moments).
STOP_GRACE_SECONDS = 60.0


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def slash_command_body(
    text: str, *, user: str = USER, channel: str = CHANNEL, response_url: str = "", team: str = "T0001"
) -> str:
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": team,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "design",
            "user_id": user,
            "user_name": "alice",
            "command": "/video",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
        }
    )


def event_callback(event: dict[str, Any], event_id: str, *, team: str = "T0001") -> str:
    """An event as Slack's Events API posts it: `event` in its envelope."""
    return json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": team,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000999,
        }
    )


def reaction_event_body(
    message_ts: str,
    *,
    reaction: str = "repeat",
    user: str = "UBOB0002",
    channel: str = CHANNEL,
    event_id: str = "Ev0001",
    item_type: str = "message",
    team: str = "T0001",
) -> str:
    """A reaction_added event as Slack's Events API posts it."""
    event = {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": "UBOT0001",
        "item": {"type": item_type, "channel": channel, "ts": message_ts},
        "event_ts": "1700000999.000100",
    }
    return event_callback(event, event_id, team=team)


def button_click_body(
    message_ts: str,
    job_id: str,
    *,
    user: str = "UBOB0002",
    channel: str = CHANNEL,
    action_ts: str = "1700001000.1",
    action_id: str = "rerun",
    response_url: str = "",
    team: str = "T0001",
) -> str:
    """A block_actions payload for the "Run again" button on a job's root message."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0001",
        "token": "unused-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1.2.4",
        "channel": {"id": channel, "name": "design"},
        "message": {"type": "message", "ts": message_ts, "text": "🎬 Video"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": job_id,
                "action_ts": action_ts,
                "text": {"type": "plain_text", "text": "🔁 Run again"},
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def form_state(view: dict[str, Any], **changed: str) -> dict[str, Any]:
    """What Slack sends back for `view`: each field as the form opened it, with `changed` typed over it."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        field = block.get("block_id")
        if block["type"] != "input" or field is None:
            continue
        if element["type"] == "plain_text_input":
            entered = {"type": "plain_text_input", "value": changed.get(field, element.get("initial_value", ""))}
        elif element["type"] == "static_select":
            entered = {
                "type": "static_select",
                "selected_option": {"value": changed.get(field, element["initial_option"]["value"])},
            }
        else:  # a box: `changed` ticks it with its value, or unticks it with ""
            ticked = [{"value": changed[field]}] if changed.get(field) else []
            entered = {
                "type": "checkboxes",
                "selected_options": ticked if field in changed else element.get("initial_options", []),
            }
        values[field] = {element["action_id"]: entered}
    return {"values": values}


def view_submission_body(view_id: str, view: dict[str, Any], *, user: str = "UBOB0002", **changed: str) -> str:
    """A view_submission of the form `view` (as views.open got it), its fields changed as `changed` says."""
    submitted = {**view, "id": view_id, "hash": f"{view_id}-1", "state": form_state(view, **changed)}
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user}, "view": submitted}
    return urlencode({"payload": json.dumps(payload)})


def private_text(response: BoltResponse) -> str:
    """The text of an answer only its requester sees (an ephemeral ack)."""
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only for a missing timestamp or body
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def bolt_request(body: str, headers: dict[str, str]) -> AsyncBoltRequest:
    """A request as Bolt's HTTP adapter hands it over (its headers may hold several values each)."""
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    return AsyncBoltRequest(body=body, headers=bolt_headers)


_SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY, APP_TOKEN)


@pytest.fixture(autouse=True)
def no_secret_in_any_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test, at every level: no token, signing secret or key in a log line or its traceback."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in (*caplog.get_records("setup"), *caplog.get_records("call")):
        text = record.getMessage() + (record.exc_text or "")
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1])
        leaked = [secret for secret in _SECRETS if secret in text]
        assert not leaked, f"a secret reached the log through {record.name}: {record.getMessage()[:200]}"


@pytest.fixture
async def fake_slack(request: pytest.FixtureRequest) -> AsyncIterator[FakeSlack]:
    """Slack's rate limits are on, as in real Slack, unless the test is marked `unlimited_slack`.

    They run SLACK_SPEED times faster, and so does the bot's pacer (`make_settings`): the bot meets the
    same limits, relative to its own pace, in a fraction of the time. A test marked `slack_at_real_pace`
    gets Slack's own clock; one marked `slack_speed(n)` runs them n times faster instead, for a test whose
    margins (a spare token of the pacer's) are too thin at SLACK_SPEED on a loaded machine."""
    real_pace = request.node.get_closest_marker("slack_at_real_pace") is not None
    speed_marker = request.node.get_closest_marker("slack_speed")
    speed = 1.0 if real_pace else float(speed_marker.args[0]) if speed_marker is not None else SLACK_SPEED
    fake = FakeSlack(limits=request.node.get_closest_marker("unlimited_slack") is None, speed=speed)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_perf() -> AsyncIterator[FakePerf]:
    fake = FakePerf()
    await fake.start()
    yield fake
    fake.release()
    await fake.stop()


@pytest.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that stores anything runs once per engine: SQLite, and PostgreSQL when one is set up."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


class MakeSettings(Protocol):
    """The `make_settings` fixture: the suite's Settings, with any of its fields replaced."""

    def __call__(self, **overrides: Any) -> Settings: ...


@pytest.fixture
def make_settings(fake_slack: FakeSlack, fake_perf: FakePerf, database_url: str) -> MakeSettings:
    def make(**overrides: Any) -> Settings:
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            perf_api_key=API_KEY,
            perf_api_url=fake_perf.api_url,
            slack_api_url=fake_slack.base_url + "/api/",
            database_url=database_url,
            media_hosts=(fake_perf.media_host,),
            port=0,
            poll_min_seconds=2.0,
            poll_max_seconds=15.0,
            slack_pace=fake_slack.speed,
        )
        return replace(settings, **overrides)

    return make


class CommandFrom(TypedDict, total=False):
    """Who sends a slash command, where, and where its answers go (`slash_command_body`'s keywords)."""

    user: str
    channel: str
    response_url: str
    team: str


@dataclass
class Bot:
    """The whole bot in this process: real services, real HTTP to the fakes, a fake clock."""

    services: RunningServices
    bolt: AsyncApp
    clock: FakeClock
    slack: FakeSlack
    perf: FakePerf

    async def command(self, text: str, **kwargs: Unpack[CommandFrom]) -> BoltResponse:
        kwargs.setdefault("response_url", self.slack.response_url())
        body = slash_command_body(text, **kwargs)
        return await self.bolt.async_dispatch(bolt_request(body, signed_headers(body)))

    async def event(self, body: str, *, retry_num: int | None = None) -> BoltResponse:
        headers = signed_headers(body, content_type="application/json")
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.bolt.async_dispatch(bolt_request(body, headers))

    async def interaction(self, body: str) -> BoltResponse:
        return await self.bolt.async_dispatch(bolt_request(body, signed_headers(body)))

    async def run_jobs(self, max_rounds: int = 200, *, each_state_shown: bool = False) -> None:
        """Advance every job as far as it goes, moving the fake clock to each next due time.

        `each_state_shown`: every post and edit asked for is sent before the clock moves on, as when Slack's pace
        is no bottleneck (in real time each state stays up for seconds; a fake clock jumps at once, and a post
        that waits for a shared bucket's round trip would otherwise see only the job's later state)."""
        for _ in range(max_rounds):
            await self.services.poller.tick()
            await self.services.poller.wait_idle()
            if each_state_shown:
                await self.services.jobs.wait_idle()
            await self.services.home.wait_idle()
            await self.services.budgets.wait_idle()
            await self.services.named.wait_idle()
            due = await self.services.store.next_due_at()
            if due is None:
                # Jobs waiting in line are not due: the next tick wakes them if a slot is free (and takes them).
                await self.step()
                due = await self.services.store.next_due_at()
                if due is None:
                    return
            # Edits asked for meanwhile are left to coalesce, as they do at Slack's pace in production;
            # step() and the end of the run wait for them.
            self.clock.t = max(self.clock.t, due)
        raise AssertionError("jobs still due after max_rounds: something loops")

    async def step(self) -> None:
        """One tick at the current fake time, and every post and edit it asked of Slack."""
        await self.services.poller.tick()
        await self.services.poller.wait_idle()
        await self.services.jobs.wait_idle()
        await self.services.home.wait_idle()
        await self.services.budgets.wait_idle()
        await self.services.named.wait_idle()

    async def stop(self) -> None:
        """Stop as at a deploy: no new work, and the steps in flight, posts and edits finish first."""
        await self.services.poller.stop(STOP_GRACE_SECONDS)
        await self.services.jobs.wait_idle()
        await self.services.home.wait_idle()
        await self.services.budgets.wait_idle()
        await self.services.named.wait_idle()

    async def only_job(self) -> Job:
        jobs = await self.services.store.jobs()
        assert len(jobs) == 1, f"expected one job, found {len(jobs)}"
        return jobs[0]


class MakeBot(Protocol):
    """The `make_bot` fixture: a bot opened with these Settings fields replaced."""

    async def __call__(self, **overrides: Any) -> Bot: ...


@pytest.fixture
async def make_bot(make_settings: MakeSettings, fake_slack: FakeSlack, fake_perf: FakePerf) -> AsyncIterator[MakeBot]:
    """make_bot(**settings) opens a bot; calling it again (same database) is a restart.

    The bot before stops first, as a process does: left running, the work its last requests woke (a tick
    already on its way) raced the new bot for the same jobs, and a test saw either bot's outcome."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        clock = FakeClock()
        opened: list[Bot] = []

        async def make(**overrides: Any) -> Bot:
            if opened:
                await opened[-1].stop()
            services = await stack.enter_async_context(open_services(make_settings(**overrides), clock))
            opened.append(Bot(services, build_bolt_app(services), clock, fake_slack, fake_perf))
            return opened[-1]

        yield make
