"""Living within Slack's limits: paced calls, 429s that hold a whole method, coalesced edits, payloads
Slack would refuse, and paid work that does not wait for a channel's posting pace."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.clients.pacing import Pacer, Priority, Ticket
from bot.domain.job import JobState
from tests.conftest import CHANNEL, Bot, MakeBot
from tests.fakes.process import wait_for


def _update_times(bot: Bot) -> list[float]:
    return [
        at for (method, _), at in zip(bot.slack.calls, bot.slack.call_times, strict=True) if method == "chat.update"
    ]


@pytest.mark.slack_at_real_pace
async def test_a_429_holds_back_every_call_of_that_method_for_retry_after(make_bot: MakeBot) -> None:
    bot = await make_bot()
    slack = bot.services.slack
    posted = [await slack.post_message(f"C{n:08d}", {"text": f"message {n}"}) for n in range(3)]
    bot.slack.fail_next("chat.update", status=429, retry_after="1")
    first = asyncio.create_task(slack.update_message("C00000000", posted[0], {"text": "edited 0"}))
    await wait_for(lambda: bot.slack.call_count("chat.update") == 1, what="the edit Slack answers with 429")
    # Two edits of other messages, asked for while the method is held.
    await asyncio.gather(
        first, *(slack.update_message(f"C{n:08d}", posted[n], {"text": f"edited {n}"}) for n in (1, 2))
    )
    limited_at, *sent_at = _update_times(bot)
    # The refused call and the two others all waited out Retry-After: no call of the method went sooner.
    assert len(sent_at) == 3
    assert min(sent_at) - limited_at >= 0.95
    assert sorted(m.text for m in bot.slack.messages) == ["edited 0", "edited 1", "edited 2"]
    assert bot.slack.rate_limited == []


async def test_edits_of_one_message_are_coalesced_and_a_stale_one_is_never_sent(make_bot: MakeBot) -> None:
    bot = await make_bot()
    slack = bot.services.slack
    ts = await slack.post_message(CHANNEL, {"text": "0%"})
    bot.slack.gates["chat.update"] = gate = asyncio.Event()
    slack.edit_soon(CHANNEL, ts, {"text": "10%"})
    await wait_for(lambda: bot.slack.held.get("chat.update") == 1, what="the first edit at Slack")
    for percent in (20, 30, 40):  # while the first edit is on its way
        slack.edit_soon(CHANNEL, ts, {"text": f"{percent}%"})
    gate.set()
    await slack.wait_idle()
    [message] = bot.slack.messages
    assert message.history == ["10%", "40%"]


async def test_what_a_person_misses_most_gets_the_next_turn() -> None:
    pacer = Pacer(scale=60)  # 50 edits a second: the test waits milliseconds, not seconds
    [lane] = pacer.lanes_for("chat.update")
    while await lane.take_now():
        pass  # the burst is spent
    order: list[str] = []

    async def wait(name: str, priority: Priority) -> None:
        await pacer.turn("chat.update", "", Ticket(priority))
        order.append(name)

    waiting = [asyncio.create_task(wait(f"progress {n}", Priority.BACKGROUND)) for n in range(3)]
    await asyncio.sleep(0)  # the progress edits are in line first
    waiting.append(asyncio.create_task(wait("root", Priority.ROOT)))
    waiting.append(asyncio.create_task(wait("final edit", Priority.URGENT)))
    await asyncio.gather(*waiting)
    assert order == ["final edit", "root", "progress 0", "progress 1", "progress 2"]
    await pacer.close()


# At 10x the pacer's one spare token per channel lasts 100 ms, and on a loaded machine a post the pacer let go
# reached the fake up to 320 ms later, bunched with the next ones (one 429 in about ten runs); at 2x it is 500 ms.
@pytest.mark.slack_speed(2)
async def test_paid_work_reaches_perf_while_the_channel_has_no_room_for_its_roots(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=0, poll_concurrency=16)
    await bot.command("The first scene")
    await bot.run_jobs()  # the bot has posted in the channel: it can post there
    # From now on Slack takes no message in the channel until the gate opens.
    bot.slack.gates["chat.postMessage"] = gate = asyncio.Event()
    for n in range(10):
        await bot.command(f"Scene {n}", user=f"U{n:08d}")
    tick = asyncio.create_task(bot.services.poller.tick())
    await wait_for(lambda: len(bot.perf.creates) == 11, what="all ten new jobs at Perf")
    assert len(bot.slack.roots(CHANNEL)) == 1, "no root of the ten got through yet"
    gate.set()
    await tick
    await bot.run_jobs()
    roots = bot.slack.roots(CHANNEL)
    assert len(roots) == 11
    for root in roots:
        assert "✅ Done" in root.all_text()
        assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1
        assert len(bot.slack.thread(CHANNEL, root.ts)) == 1, "one progress message"
    assert bot.slack.rate_limited == []


async def test_in_a_channel_not_known_to_take_messages_the_root_goes_first(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=0)
    bot.slack.gates["chat.postMessage"] = gate = asyncio.Event()
    await bot.command("A lighthouse")
    tick = asyncio.create_task(bot.services.poller.tick())
    await wait_for(lambda: bot.slack.held.get("chat.postMessage") == 1, what="the root on its way")
    assert bot.perf.creates == [], "nothing is paid for before the channel took the root"
    gate.set()
    await tick
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED


async def test_twelve_jobs_in_one_channel_meet_no_429(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=0)
    for n in range(12):
        await bot.command(f"Scene {n} --model pika", user=f"U{n:08d}")
    await bot.run_jobs()
    jobs = await bot.services.store.jobs()
    assert [job.state for job in jobs] == [JobState.DELIVERED] * 12
    assert bot.slack.rate_limited == [] and bot.slack.refused == []


async def test_a_prompt_that_escapes_past_a_section_is_shown_cut_and_its_video_delivered(make_bot: MakeBot) -> None:
    bot = await make_bot()
    prompt = ("Tom & Jerry <chase> " * 100)[:1990].strip()
    await bot.command(prompt)
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "✅ Done" in root.all_text() and "Tom &amp; Jerry &lt;chase&gt;" in root.all_text()
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1
    assert bot.perf.creates[0]["prompt"] == prompt, "Perf gets the whole prompt; only the message is cut"
    assert bot.slack.refused == []


async def test_a_message_slack_refuses_goes_as_plain_text_once_and_the_job_goes_on(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", error="invalid_blocks")
    bot.slack.fail_next("chat.update", error="msg_too_long")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.DELIVERED and job.finalized
    [root] = bot.slack.roots(CHANNEL)
    assert "A lighthouse" in root.text
    posts = [params for method, params in bot.slack.calls if method == "chat.postMessage"]
    refused, instead = posts[0], posts[1]
    assert refused.get("blocks") and not instead.get("blocks") and "A lighthouse" in instead["text"]
    refusals = [r.getMessage() for r in caplog.records if "event=message_refused" in r.getMessage()]
    assert len(refusals) == 2 and all(f"job={job.id}" in line for line in refusals)
    assert any(r.levelno == logging.ERROR for r in caplog.records if "event=message_refused" in r.getMessage())


async def test_a_root_slack_refuses_even_as_plain_text_ends_the_job_before_perf(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", error="invalid_blocks")
    bot.slack.fail_next("chat.postMessage", error="invalid_arguments")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized, "not left retrying what cannot succeed"
    assert bot.perf.creates == [] and bot.slack.messages == []
    [(_, answer)] = bot.slack.responses
    assert "invalid_arguments" in answer["text"] and "nothing was charged" in answer["text"]


async def test_a_channel_lost_after_the_job_went_to_perf_is_told_it_may_be_charged(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("The first scene")
    await bot.run_jobs()
    bot.slack.fail_next("chat.postMessage", error="is_archived")
    await bot.command("The second scene", response_url=bot.slack.response_url("r2"))
    await bot.run_jobs()
    [second] = [job for job in await bot.services.store.jobs() if job.prompt == "The second scene"]
    assert second.state == JobState.FAILED and second.finalized
    assert len(bot.perf.creates) == 2
    [answer] = [body for name, body in bot.slack.responses if name == "r2"]
    assert "is_archived" in answer["text"] and "may be charged" in answer["text"]
    assert "nothing was charged" not in answer["text"]


async def test_a_huge_retry_after_holds_a_lane_for_a_minute_at_most_and_says_so(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot()
    slack = bot.services.slack
    ts = await slack.post_message(CHANNEL, {"text": "0%"})
    bot.slack.fail_next("chat.update", status=429, retry_after="86400")  # a day: a proxy's or a bug's value
    with caplog.at_level(logging.WARNING, logger="videobot"):
        edit = asyncio.create_task(slack.update_message(CHANNEL, ts, {"text": "10%"}))
        await wait_for(lambda: bot.slack.call_count("chat.update") == 1, what="the edit Slack answers with 429")
        await wait_for(lambda: "slack_retry_after_capped" in caplog.text, what="the capped hold")
    [lane] = bot.services.slack._pacer.lanes_for("chat.update")
    assert 0 < lane.held_seconds <= 60
    assert "retry_after=86400" in caplog.text
    edit.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await edit
