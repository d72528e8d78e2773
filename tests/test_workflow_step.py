"""The Workflow Builder step "Make a video": started by function_executed, ended once when the job ends."""

from __future__ import annotations

from typing import Any

from bot.domain.job import JobState
from tests.conftest import CHANNEL, USER, Bot, MakeBot, event_callback
from tests.test_approvals import run_for


def step_executed(bot: Bot, execution_id: str = "Fx0001", event_id: str = "EvStep1", **inputs: Any) -> str:
    token = bot.slack.step_tokens.get(execution_id) or bot.slack.start_step(execution_id)
    event = {
        "type": "function_executed",
        "function": {"id": "Fn0001", "callback_id": "make_video", "title": "Make a video"},
        "inputs": {
            "prompt": "A lighthouse in a storm",
            "channel_id": CHANNEL,
            "requester": {"id": USER, "secret": "c2VjcmV0"},
            **inputs,
        },
        "function_execution_id": execution_id,
        "workflow_execution_id": "Wx0001",
        "event_ts": "1700000999.000100",
        "bot_access_token": token,
    }
    return event_callback(event, event_id)


async def test_the_step_makes_the_video_and_ends_with_its_outputs(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert (await bot.event(step_executed(bot, model="veo-3", duration=8, aspect_ratio="9:16"))).status == 200
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1
    job = await bot.only_job()
    assert job.user_id == USER and job.model == "veo-3" and job.aspect_ratio == "9:16"
    how, detail = bot.slack.ended_steps["Fx0001"]
    assert how == "success"
    outputs = detail["outputs"]
    assert outputs["job_id"] == job.id and outputs["cost_usd"] == 0.4  # what Perf charged, not the $2.80 estimate
    assert outputs["video_link"].startswith("https://acme.slack.com/archives/" + CHANNEL)
    assert job.step_done and job.step_token is None  # the step's secret is not kept once it is used


async def test_a_failed_job_fails_the_step_with_the_reason(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.outcome = "failed"
    await bot.event(step_executed(bot))
    await bot.run_jobs()
    assert bot.slack.ended_steps["Fx0001"] == (
        "error",
        {"error": "The video could not be made: Content policy violation: the prompt was refused"},
    )


async def test_wrong_inputs_fail_the_step_at_once_and_start_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.event(step_executed(bot, prompt="   "))
    await bot.event(step_executed(bot, "Fx0002", "EvStep2", model="sora"))
    how, detail = bot.slack.ended_steps["Fx0001"]
    assert how == "error" and "Tell me what to film" in detail["error"]
    how, detail = bot.slack.ended_steps["Fx0002"]
    assert how == "error" and "sora" in detail["error"]
    assert await bot.services.store.jobs() == [] and bot.perf.creates == []


async def test_a_quota_refusal_fails_the_step(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=1)
    await bot.command("First")
    await bot.event(step_executed(bot))
    how, detail = bot.slack.ended_steps["Fx0001"]
    assert how == "error" and "used its 1 job" in detail["error"]


async def test_a_redelivered_step_starts_one_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.event(step_executed(bot))
    await bot.event(step_executed(bot, event_id="EvStep1"), retry_num=1)
    await bot.event(step_executed(bot, event_id="EvStep9"))  # the same execution, sent again as a new event
    await bot.run_jobs()
    assert len(await bot.services.store.jobs()) == 1 and len(bot.perf.creates) == 1
    assert bot.slack.ended_steps["Fx0001"][0] == "success"


async def test_a_restart_between_ending_the_step_and_recording_it_ends_it_once(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.event(step_executed(bot))
    bot.slack.fail_next("functions.completeSuccess", status=500)  # the first try fails: the job retries it
    await bot.run_jobs()
    assert bot.slack.ended_steps["Fx0001"][0] == "success" and (await bot.only_job()).step_done
    assert bot.slack.call_count("functions.completeSuccess") == 2

    # What a kill right after Slack's answer leaves behind: the step ended at Slack, not in the row.
    job = await bot.only_job()
    token = bot.slack.step_tokens["Fx0001"]
    await bot.services.store.update_job(job, step_done=False, step_token=token, finalized=False, next_poll_at=0.0)
    restarted = await make_bot()
    await restarted.run_jobs()
    job = await restarted.only_job()
    assert job.state == JobState.DELIVERED and job.step_done and job.finalized
    # Ended once: the restart's end reached Slack with the step's token and was refused as already ended.
    assert bot.slack.call_count("functions.completeSuccess") == 3 and list(bot.slack.ended_steps) == ["Fx0001"]


ADMIN = "UADMIN01"
APPROVALS = "CAPPROVE1"


async def test_a_step_naming_an_admin_by_a_bare_user_id_starts_nothing_on_their_rights(make_bot: MakeBot) -> None:
    # Whoever builds the workflow picks a bare user id: an admin's, to spend their quota and skip approval.
    bot = await make_bot(
        approval_over_micros=2_000_000, approval_channel=APPROVALS, daily_budget_micros_per_user=10_000_000
    )
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.event(step_executed(bot, requester=ADMIN, model="veo-3", duration=8))
    await bot.run_jobs()
    how, detail = bot.slack.ended_steps["Fx0001"]
    assert how == "error" and "the person who ran the workflow" in detail["error"]
    assert await bot.services.store.jobs() == [] and bot.perf.creates == []
    assert not bot.slack.roots(CHANNEL) and not bot.slack.roots(APPROVALS)
    # The admin's own quota and budget are untouched.
    usage = await bot.services.quotas.usage("T0001", CHANNEL, ADMIN, bot.clock.now())
    assert usage.user_jobs == 0 and usage.user_cost_micros == 0


async def test_a_step_run_by_an_admin_is_still_asked_for_approval_like_anyones(make_bot: MakeBot) -> None:
    bot = await make_bot(approval_over_micros=2_000_000, approval_channel=APPROVALS)
    bot.slack.add_user(ADMIN, is_admin=True)
    # Slack's user context: the person who ran it, as Slack vouches for them.
    await bot.event(step_executed(bot, requester={"id": ADMIN, "secret": "c2VjcmV0"}, model="veo-3", duration=8))
    await run_for(bot)
    job = await bot.only_job()
    assert job.user_id == ADMIN
    assert job.state == JobState.AWAITING_APPROVAL and job.approval is None
    assert bot.perf.creates == []
    [request] = bot.slack.roots(APPROVALS)
    assert job.id in request.all_text()
