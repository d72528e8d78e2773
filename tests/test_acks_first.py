"""Over real HTTP: Slack's requests are answered before the jobs they start take the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.domain.job import JobState
from bot.runtime.app import build_slack_app
from tests.conftest import CHANNEL, Bot, MakeBot, signed_headers, slash_command_body
from tests.fakes.process import wait_for


@pytest.fixture
async def served(make_bot: MakeBot) -> AsyncIterator[tuple[Bot, str]]:
    bot = await make_bot()
    runner = web.AppRunner(build_slack_app(bot.services, bot.bolt), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield bot, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await bot.services.poller.stop(0.0)
    await runner.cleanup()


async def send(
    client: httpx.AsyncClient, url: str, text: str, user: str = "UALICE001", channel: str = CHANNEL
) -> httpx.Response:
    body = slash_command_body(text, user=user, channel=channel)
    return await client.post(f"{url}/slack/events", content=body, headers=signed_headers(body))


async def test_a_burst_of_commands_is_all_acknowledged_before_its_jobs_start(served: tuple[Bot, str]) -> None:
    bot, url = served
    # Wider than any pause between two requests of the burst, so the order below cannot depend on luck.
    bot.services.poller.acks.quiet_seconds = 0.3
    # From twenty channels: Slack takes about one message a second in a channel, and this is about acks.
    channels = [f"C{n:08d}" for n in range(20)]
    async with httpx.AsyncClient() as client:
        answers = await asyncio.gather(
            *(send(client, url, f"A kite {n}", user=f"U{n:08d}", channel=channels[n]) for n in range(20))
        )
    assert [(answer.status_code, answer.text) for answer in answers] == [(200, "")] * 20
    # Every command is stored and acknowledged; not one job has yet posted a message or called Perf.
    assert len(await bot.services.store.jobs()) == 20
    assert not any(bot.slack.roots(channel) for channel in channels) and bot.perf.creates == []
    # Then they all start, without waiting for the poller's next interval.
    await wait_for(
        lambda: all(len(bot.slack.roots(channel)) == 1 for channel in channels),
        within=10,
        what="the burst's jobs starting",
    )
    assert len(bot.perf.creates) == bot.services.settings.max_concurrent_jobs


async def test_a_job_under_way_makes_no_call_while_a_burst_is_being_answered(served: tuple[Bot, str]) -> None:
    bot, url = served
    acks = bot.services.poller.acks
    acks.quiet_seconds = 0.3
    bot.perf.create_gate = asyncio.Event()
    channels = [f"C{n:08d}" for n in range(20)]
    async with httpx.AsyncClient() as client:
        assert (await send(client, url, "A lighthouse")).status_code == 200
        # Its root is posted and its step waits at Perf's door, past every check before the call.
        await wait_for(lambda: bot.perf.create_requests == 1, within=10, what="the job asking Perf")
        calls = len(bot.slack.call_times)
        burst = asyncio.gather(
            *(send(client, url, f"A kite {n}", user=f"U{n:08d}", channel=channels[n]) for n in range(20))
        )
        # Perf answers the job while the burst is being answered: its next call (the root's edit) must wait.
        await wait_for(acks.pending, within=10, what="the burst arriving")
        bot.perf.create_gate.set()
        answers = await burst
        answered_at = time.monotonic()
    assert [(answer.status_code, answer.text) for answer in answers] == [(200, "")] * 20
    await wait_for(
        lambda: all(len(bot.slack.roots(channel)) == 1 for channel in channels) and len(bot.perf.creates) > 1,
        within=10,
        what="the burst's jobs starting",
    )
    job = next(job for job in await bot.services.store.jobs() if job.prompt == "A lighthouse")
    assert job.perf_job_id is not None
    # Every Slack call since Perf's answer (the job's edit, the burst's roots) came after the last ack.
    assert len(bot.slack.call_times) > calls and min(bot.slack.call_times[calls:]) >= answered_at


async def test_requests_that_never_stop_hold_jobs_back_at_most_a_moment(served: tuple[Bot, str]) -> None:
    bot, url = served
    # Never quiet for this test's length: only the cap lets the job start.
    bot.services.poller.acks.quiet_seconds = 60.0
    bot.services.poller.acks.at_most_seconds = 0.2
    async with httpx.AsyncClient() as client:
        assert (await send(client, url, "A lighthouse")).status_code == 200
        helps = 0
        while not bot.slack.roots(CHANNEL):
            assert helps < 2000, "the job never started while requests kept coming"
            # Each from someone else: the same signed body twice would be refused as a replay.
            answer = await send(client, url, "help", user=f"U{helps:08d}")
            assert answer.status_code == 200 and "/video" in answer.json()["text"]
            helps += 1
    assert len(bot.slack.roots(CHANNEL)) == 1
    await wait_for(lambda: len(bot.perf.creates) == 1, within=10, what="the job reaching Perf")


async def test_a_bot_told_to_stop_while_its_acks_go_first_starts_no_job(served: tuple[Bot, str]) -> None:
    bot, url = served
    # The tick the command wakes waits for a quiet moment that does not come before the stop.
    bot.services.poller.acks.quiet_seconds = 10.0
    bot.services.poller.acks.at_most_seconds = 10.0
    async with httpx.AsyncClient() as client:
        assert (await send(client, url, "A lighthouse")).status_code == 200
    await bot.services.poller.stop(grace_seconds=60.0)
    # Stopping takes no new work: nothing paid for, nothing posted; the job waits for the next start.
    assert bot.perf.creates == [] and bot.slack.roots(CHANNEL) == []
    assert (await bot.only_job()).state == JobState.ACCEPTED


async def test_slacks_ssl_check_and_other_commands_still_reach_bolt(served: tuple[Bot, str]) -> None:
    _, url = served
    async with httpx.AsyncClient() as client:
        body = "ssl_check=1&token=unused-verification-token"
        ssl_check = await client.post(f"{url}/slack/events", content=body, headers=signed_headers(body))
        other = slash_command_body("hello").replace("%2Fvideo", "%2Fother")
        unknown = await client.post(f"{url}/slack/events", content=other, headers=signed_headers(other))
    assert ssl_check.status_code == 200
    # Bolt's answer to a command nobody handles, not a job.
    assert unknown.status_code == 404
