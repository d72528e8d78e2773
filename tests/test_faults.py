"""Faults the bot must survive: each ends in a delivered video or a clear message, never a hung job."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypedDict

import pytest

from bot.domain.job import Job, JobState
from storage.db import Store
from tests.conftest import CHANNEL, MakeBot
from tests.fakes.jobs import stored_job
from tests.fakes.perf import Scripted


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived", "missing_scope"])
async def test_a_channel_the_bot_cannot_post_in_ends_the_job_privately_before_perf(
    make_bot: MakeBot, error: str
) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", error=error)
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert bot.perf.create_requests == 0 and bot.slack.messages == []
    [(_, answer)] = bot.slack.responses
    assert error in answer["text"] and answer["response_type"] == "ephemeral"
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized


class SlackFailure(TypedDict, total=False):
    """The keyword arguments of FakeSlack.fail_next."""

    error: str
    status: int
    retry_after: str


@pytest.mark.parametrize(
    "failure",
    [{"status": 429, "retry_after": "1"}, {"status": 429}, {"error": "ratelimited"}, {"error": "internal_error"}],
)
async def test_slack_busy_or_failing_on_a_post_is_retried_and_the_job_goes_on(
    make_bot: MakeBot, failure: SlackFailure
) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", **failure)
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert len(bot.slack.roots(CHANNEL)) == 1
    assert (await bot.only_job()).state == JobState.DELIVERED
    assert bot.perf.create_requests == 1


@pytest.mark.parametrize("error", ["file_too_large", "missing_scope"])
async def test_an_upload_slack_will_not_take_becomes_the_link(make_bot: MakeBot, error: str) -> None:
    bot = await make_bot()
    bot.slack.fail_next("files.getUploadURLExternal", error=error)
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.DELIVERED and job.delivered_as_link
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert error in progress.text and (job.video_url or "-") in progress.text


async def test_perf_failing_every_poll_is_given_up_at_the_deadline_with_a_message(make_bot: MakeBot) -> None:
    bot = await make_bot(job_timeout_seconds=300)
    await bot.command("A lighthouse")
    await bot.step()
    bot.perf.poll_script = [Scripted(500, {"error": {"message": "down"}}) for _ in range(1000)]
    await bot.run_jobs(max_rounds=1000)
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized
    [root] = bot.slack.roots(CHANNEL)
    assert "did not finish within 5 min" in root.all_text()


async def test_prompts_keep_control_characters_rtl_marks_and_emoji_intact(make_bot: MakeBot) -> None:
    bot = await make_bot()
    prompt = "Ein Leuchtturm 🌊\u200f שלום \u202eabc\u202c\ttab — “quotes” <@U123> & <!here>"
    await bot.command(prompt)
    await bot.run_jobs()
    [created] = bot.perf.creates
    assert created["prompt"] == prompt
    [root] = bot.slack.roots(CHANNEL)
    assert "🌊\u200f שלום \u202eabc\u202c" in root.all_text()
    assert "&lt;@U123&gt; &amp; &lt;!here&gt;" in root.all_text()


async def test_concurrent_writers_never_see_database_is_locked(tmp_path: Path) -> None:
    """The bot and an admin command (or a second process) write the same SQLite file at once."""
    path = str(tmp_path / "shared.db")
    first, second = await Store.open(path), await Store.open(path)

    def job(n: int) -> Job:
        return stored_job(id=f"vb_conc{n:06d}", created_at=float(n))

    async def write(store: Store, start: int) -> None:
        for n in range(start, start + 150):
            stored = job(n)
            await store.insert_job(stored)
            await store.update_job(stored, state=JobState.PENDING, perf_job_id=f"job_{n}")

    try:
        await asyncio.gather(write(first, 0), write(second, 1000), write(first, 2000), write(second, 3000))
        assert len(await first.jobs(states=[JobState.PENDING])) == 600
    finally:
        await first.close()
        await second.close()


async def test_markup_in_perfs_error_message_is_shown_as_text_and_pings_nobody(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.outcome = "failed"
    await bot.command("A lighthouse")
    await bot.step()
    for perf_job in bot.perf.jobs.values():
        perf_job.error_message = "Refused <!channel> <@U999> <https://evil.example|click>"
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    for text in (root.all_text(), progress.text):
        assert "&lt;!channel&gt; &lt;@U999&gt; &lt;https://evil.example|click&gt;" in text
        assert "<!channel>" not in text and "<@U999>" not in text


async def test_a_step_never_overwrites_a_job_cancelled_meanwhile(make_bot: MakeBot) -> None:
    from bot.runtime import ops

    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.step()
    seen_by_the_poller = await bot.only_job()  # what a step in flight holds in memory
    assert seen_by_the_poller.state == JobState.PENDING
    await ops.cancel(bot.services.store, seen_by_the_poller.id, bot.clock.now())

    bot.clock.advance(60)
    await bot.services.jobs.advance(seen_by_the_poller)  # polls Perf, then finds the row moved on
    assert (await bot.only_job()).state == JobState.CANCELLED
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "🚫 Cancelled" in root.all_text()
    assert (await bot.only_job()).finalized
