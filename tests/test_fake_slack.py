"""The fake Slack refuses what real Slack refuses: calls over the rate limits, and broken Block Kit.

Every test talks to it with the real slack_sdk client and no retry handler, so a 429 surfaces as an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.process import wait_for
from tests.fakes.slack import BOT_TOKEN, FakeSlack, TokenBucket

CHANNEL = "C0DESIGN"
OTHER = "C0OTHER"


def client_for(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url + "/api/", retry_handlers=[])


@pytest.fixture
async def real_slack_limits() -> AsyncIterator[FakeSlack]:
    """Slack's limits as Slack applies them, in real time, whatever the suite's `fake_slack` is set to."""
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def unlimited() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(limits=False)
    await fake.start()
    yield fake
    await fake.stop()


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "video_form",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Make it"},
        "blocks": [section("What should the video show?")],
    }


# --- rate limits ---------------------------------------------------------------------------------


async def test_a_burst_in_one_channel_beyond_three_is_limited_while_another_channel_still_posts(
    real_slack_limits: FakeSlack,
) -> None:
    client = client_for(real_slack_limits)
    for n in range(3):
        await client.chat_postMessage(channel=CHANNEL, text=f"post {n}")

    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="one too many")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"

    await client.chat_postMessage(channel=OTHER, text="another channel has its own second")

    assert [m.text for m in real_slack_limits.roots(CHANNEL)] == ["post 0", "post 1", "post 2"]
    assert [m.text for m in real_slack_limits.roots(OTHER)] == ["another channel has its own second"]
    assert real_slack_limits.rate_limited == [("chat.postMessage", CHANNEL)]
    assert real_slack_limits.call_count("chat.postMessage") == 4  # the limited call is not among them
    assert len(real_slack_limits.call_times) == len(real_slack_limits.calls)


@pytest.fixture
async def slow_refill() -> AsyncIterator[FakeSlack]:
    """Slack's limits with a clock a hundred times slower: a spent burst stays spent for the whole test."""
    fake = FakeSlack(speed=0.01)
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_call_counts_against_the_limit_when_it_arrives_not_when_a_slow_slack_answers(
    slow_refill: FakeSlack,
) -> None:
    client = client_for(slow_refill)
    # Slack is slow to answer posts: the first three of the channel's burst arrive and wait for their answer.
    slow_refill.gates["chat.postMessage"] = gate = asyncio.Event()
    held = [asyncio.create_task(client.chat_postMessage(channel=CHANNEL, text=f"post {n}")) for n in range(3)]
    await wait_for(lambda: slow_refill.held.get("chat.postMessage") == 3, what="three posts at Slack")
    # The fourth meets the spent burst on arrival, while the three are still unanswered.
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="one too many")
    assert limited.value.response.status_code == 429
    assert slow_refill.held["chat.postMessage"] == 3
    gate.set()
    await asyncio.gather(*held)
    # Answered late, the three took their tokens when they arrived: none of them is limited now.
    assert [m.text for m in slow_refill.roots(CHANNEL)] == ["post 0", "post 1", "post 2"]
    assert slow_refill.rate_limited == [("chat.postMessage", CHANNEL)]


async def test_the_workspace_takes_a_burst_of_thirty_posts_across_channels(real_slack_limits: FakeSlack) -> None:
    client = client_for(real_slack_limits)
    for n in range(30):
        await client.chat_postMessage(channel=f"C{n // 3:04d}", text=f"post {n}")

    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C9999", text="a fresh channel, but the workspace is spent")
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["Retry-After"]) >= 1
    assert real_slack_limits.roots("C9999") == []
    assert real_slack_limits.rate_limited == [("chat.postMessage", "C9999")]


async def test_chat_update_beyond_its_burst_is_limited(real_slack_limits: FakeSlack) -> None:
    client = client_for(real_slack_limits)
    posted = await client.chat_postMessage(channel=CHANNEL, text="⏳ 0%")
    for n in range(8):
        await client.chat_update(channel=CHANNEL, ts=posted["ts"], text=f"⏳ {n + 1}0%")

    with pytest.raises(SlackApiError) as limited:
        await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="⏳ 90%")
    assert limited.value.response.status_code == 429
    # 50 a minute: the next token is about 1.2 s away.
    assert 1 <= int(limited.value.response.headers["Retry-After"]) <= 2

    message = real_slack_limits.roots(CHANNEL)[0]
    assert (message.text, message.edits) == ("⏳ 80%", 8)
    assert real_slack_limits.rate_limited == [("chat.update", "")]
    assert real_slack_limits.call_count("chat.update") == 8


async def test_without_limits_forty_posts_in_one_channel_go_through(unlimited: FakeSlack) -> None:
    client = client_for(unlimited)
    for n in range(40):
        await client.chat_postMessage(channel=CHANNEL, text=f"post {n}")
    assert len(unlimited.roots(CHANNEL)) == 40
    assert unlimited.rate_limited == []


@pytest.mark.unlimited_slack
async def test_the_unlimited_slack_marker_turns_the_fixtures_limits_off(fake_slack: FakeSlack) -> None:
    assert not fake_slack.limits
    client = client_for(fake_slack)
    for n in range(40):
        await client.chat_postMessage(channel=CHANNEL, text=f"post {n}")
    assert len(fake_slack.roots(CHANNEL)) == 40


async def test_a_call_held_at_a_gate_or_failed_on_purpose_behaves_as_before(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel=CHANNEL, text="lost")
    assert failed.value.response["error"] == "channel_not_found"
    assert fake_slack.call_count("chat.postMessage") == 1  # recorded, as Slack received it
    assert fake_slack.roots(CHANNEL) == []

    gate = fake_slack.gates["chat.postMessage"] = asyncio.Event()
    held = asyncio.create_task(client.chat_postMessage(channel=CHANNEL, text="held"))
    deadline = time.monotonic() + 5
    while fake_slack.held.get("chat.postMessage", 0) < 1:
        assert time.monotonic() < deadline, "the call never reached the gate"
        await asyncio.sleep(0.01)
    assert fake_slack.roots(CHANNEL) == []
    gate.set()
    assert (await held)["ok"]
    assert [m.text for m in fake_slack.roots(CHANNEL)] == ["held"]


def test_a_bucket_refills_at_its_rate_and_a_refused_call_takes_no_token() -> None:
    bucket = TokenBucket(per_minute=60, burst=3, now=0.0)
    for _ in range(3):
        assert bucket.wait(0.0) == 0
        bucket.take()
    assert bucket.wait(0.0) == pytest.approx(1.0)
    # Refused calls take nothing: asking again and again does not push the next token further away.
    assert bucket.wait(0.5) == pytest.approx(0.5)
    assert bucket.wait(0.5) == pytest.approx(0.5)
    assert bucket.wait(1.0) == 0
    # It never holds more than its burst, however long it rested.
    assert bucket.wait(1_000.0) == 0
    assert bucket.tokens == 3


# --- Block Kit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "blocks",
    [
        [section("x" * 3_001)],
        [section(f"line {n}") for n in range(51)],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    ],
    ids=["section-over-3000", "51-blocks", "header-of-151"],
)
async def test_a_message_slack_would_refuse_is_refused_and_leaves_no_message(
    unlimited: FakeSlack, blocks: list[dict[str, Any]]
) -> None:
    client = client_for(unlimited)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "invalid_blocks"
    assert refused.value.response["errors"]
    assert unlimited.messages == []
    assert [(method, error) for method, error, _ in unlimited.refused] == [("chat.postMessage", "invalid_blocks")]
    assert unlimited.call_count("chat.postMessage") == 1  # Slack received it


async def test_a_refused_edit_leaves_the_message_as_it_was(unlimited: FakeSlack) -> None:
    client = client_for(unlimited)
    posted = await client.chat_postMessage(channel=CHANNEL, text="first", blocks=[section("first")])
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="second", blocks=[section("y" * 3_001)])
    assert refused.value.response["error"] == "invalid_blocks"
    message = unlimited.roots(CHANNEL)[0]
    assert (message.text, message.blocks, message.edits) == ("first", [section("first")], 0)


async def test_a_refused_ephemeral_is_not_shown(unlimited: FakeSlack) -> None:
    client = client_for(unlimited)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postEphemeral(
            channel=CHANNEL, user="UALICE01", text="only you", blocks=[section(f"{n}") for n in range(51)]
        )
    assert refused.value.response["error"] == "invalid_blocks"
    assert unlimited.ephemerals == []


async def test_a_modal_title_of_25_characters_is_refused_by_views_open(unlimited: FakeSlack) -> None:
    client = client_for(unlimited)
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id="1.2.3", view=modal("t" * 25))
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"]
    assert unlimited.views == {}
    assert unlimited.opened_with == []
    assert [(method, error) for method, error, _ in unlimited.refused] == [("views.open", "invalid_arguments")]

    opened = await client.views_open(trigger_id="1.2.3", view=modal("t" * 24))
    assert opened["ok"]


async def test_a_valid_message_passes(unlimited: FakeSlack) -> None:
    client = client_for(unlimited)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("x" * 3_000),
        *[section(f"line {n}") for n in range(48)],
    ]
    posted = await client.chat_postMessage(channel=CHANNEL, text="🎬 Video", blocks=blocks)
    assert posted["ok"]
    assert len(unlimited.roots(CHANNEL)[0].blocks) == 50
    assert unlimited.refused == []


async def test_the_response_url_refuses_broken_blocks_with_400(unlimited: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        broken = {"text": "fallback", "blocks": [section("x" * 3_001)]}
        async with session.post(unlimited.response_url(), json=broken) as answer:
            assert (answer.status, await answer.text()) == (400, "invalid_blocks")
        good = {"text": "only you", "response_type": "ephemeral", "replace_original": False}
        async with session.post(unlimited.response_url(), json=good) as answer:
            assert answer.status == 200
    assert unlimited.responses == [("r1", good)]
    assert [(method, error) for method, error, _ in unlimited.refused] == [("response_url", "invalid_blocks")]
