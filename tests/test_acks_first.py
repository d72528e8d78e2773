"""Over real HTTP: Slack's requests are answered before the jobs they start take the event loop."""

from __future__ import annotations

import asyncio
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
    bot.services.poller.acks_first_quiet_seconds = 0.3
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


async def test_requests_that_never_stop_hold_jobs_back_at_most_a_moment(served: tuple[Bot, str]) -> None:
    bot, url = served
    # Never quiet for this test's length: only the cap lets the job start.
    bot.services.poller.acks_first_quiet_seconds = 60.0
    bot.services.poller.acks_first_at_most_seconds = 0.2
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
    bot.services.poller.acks_first_quiet_seconds = 10.0
    bot.services.poller.acks_first_at_most_seconds = 10.0
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
