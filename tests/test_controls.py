"""Cancel, status, models and details: the buttons on a job's message and their slash-command twins."""

from __future__ import annotations

from typing import Any

from bot.domain.job import Job, JobState
from tests.conftest import CHANNEL, USER, Bot, MakeBot, button_click_body, private_text
from tests.fakes.slack import FakeMessage

BOB = "UBOB0002"
ADMIN = "UADMIN01"


async def running_job(bot: Bot) -> Job:
    bot.perf.hold()
    await bot.command("A lighthouse in a storm")
    await bot.step()
    for _ in range(10):
        job = await bot.only_job()
        if job.state == JobState.PROCESSING:
            break
        assert job.next_poll_at is not None  # a job not yet processing has its next poll set
        bot.clock.t = job.next_poll_at
        await bot.step()
    assert job.state == JobState.PROCESSING
    return job


def buttons(message: FakeMessage) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def test_cancel_by_someone_else_is_refused_and_by_the_requester_stops_the_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    job = await running_job(bot)
    [root] = bot.slack.roots(CHANNEL)
    cancel = buttons(root)["cancel"]
    assert cancel["value"] == job.id and "may still be charged" in cancel["confirm"]["text"]["text"]

    await bot.interaction(
        button_click_body(root.ts, job.id, user=BOB, action_id="cancel", response_url=bot.slack.response_url("b"))
    )
    [(_, refusal)] = bot.slack.responses
    assert "Only the person who asked for this video, or a workspace admin" in refusal["text"]
    assert (await bot.only_job()).state == JobState.PROCESSING

    await bot.interaction(button_click_body(root.ts, job.id, user=USER, action_id="cancel", action_ts="2"))
    await bot.run_jobs()
    polls = len(bot.perf.polls)
    bot.clock.advance(600)
    await bot.run_jobs()
    assert len(bot.perf.polls) == polls, "a cancelled job is no longer polled"
    cancelled = await bot.only_job()
    assert cancelled.state == JobState.CANCELLED and cancelled.finalized
    assert "🚫 Cancelled" in root.all_text() and "cancel" not in buttons(root)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert "may still be charged" in progress.text


async def test_a_workspace_admin_may_cancel_anyones_job_with_the_command(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    job = await running_job(bot)
    assert "Only the person" in private_text(await bot.command(f"cancel {job.id}", user=BOB))
    assert f"Cancelled `{job.id}`" in private_text(await bot.command(f"cancel {job.id}", user=ADMIN))
    assert "already ended" in private_text(await bot.command(f"cancel {job.id}", user=ADMIN))
    assert "There is no job" in private_text(await bot.command("cancel vb_aaaaaaaaaa"))
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.CANCELLED


async def test_status_lists_your_unfinished_jobs_here(make_bot: MakeBot) -> None:
    bot = await make_bot()
    job = await running_job(bot)
    assert job.id in private_text(await bot.command("status"))
    assert "no unfinished jobs" in private_text(await bot.command("status", user=BOB))
    await bot.command(f"cancel {job.id}")
    assert "no unfinished jobs" in private_text(await bot.command("status"))


async def test_models_lists_the_catalogue_with_prices(make_bot: MakeBot) -> None:
    bot = await make_bot()
    text = private_text(await bot.command("models"))
    for name in ("veo-3", "runway-gen3", "luma-dream-machine", "pika"):
        assert f"`{name}`" in text
    assert "$0.35/s" in text and "8 s for $2.80" in text
    assert bot.perf.create_requests == 0


async def test_details_shows_ids_timings_and_cost_privately(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    [root] = bot.slack.roots(CHANNEL)
    await bot.interaction(
        button_click_body(root.ts, job.id, action_id="details", response_url=bot.slack.response_url("d"))
    )
    [(_, details)] = bot.slack.responses
    text = details["text"]
    assert details["response_type"] == "ephemeral" and details["replace_original"] is False
    assert job.id in text and str(job.perf_job_id) in text and "$0.40 (charged)" in text
    assert "accepted +0 s" in text and "delivered" in text


async def test_progress_edits_are_throttled_but_the_last_state_is_always_shown(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.eta_seconds = 0  # "about to finish" for ten polls: the bot looks every 0.5 s
    bot.perf.processing_polls = 10
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    processing_polls = 10
    # Without the throttle each of the ten polls would edit the bar; with it, at most one per 3 s.
    assert progress.edits < processing_polls / 2 + 3, progress.edits
    assert "✅ Done" in progress.text and "✅ Done" in root.all_text()
