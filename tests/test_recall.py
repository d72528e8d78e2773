"""Recall: `/video show <job id>` posts a finished job's result in the channel it is typed in, for its
requester or an admin; `/video history [words]` lists the person's last jobs, privately."""

from __future__ import annotations

import json
from typing import Any

from bot import messages
from bot.domain.job import Job, JobState
from bot.domain.recall import HISTORY_LIMIT
from bot.domain.request import MAX_PROMPT_CHARS
from tests.conftest import CHANNEL, USER, Bot, MakeBot, private_text
from tests.fakes.blockkit import message_problem
from tests.fakes.jobs import stored_job

BOB = "UBOB0002"
ADMIN = "UADMIN01"
ELSEWHERE = "C0THER01"


def answer(body: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def thread_link(job: Job) -> str:
    return f"https://acme.slack.com/archives/{job.where}/p{(job.root_ts or '').replace('.', '')}"


async def made(bot: Bot, *texts: str, user: str = USER) -> list[Job]:
    for text in texts:
        await bot.command(text, user=user)
    await bot.run_jobs()
    return [job for job in await bot.services.store.jobs() if job.user_id == user]


async def test_show_posts_a_finished_job_in_the_channel_it_is_typed_in(make_bot: MakeBot) -> None:
    bot = await make_bot()
    [job] = await made(bot, "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16")

    shown = answer((await bot.command(f"show {job.id}", channel=ELSEWHERE)).body)
    assert shown["response_type"] == "in_channel"  # Slack posts it in #elsewhere, for everyone there
    text = json.dumps(shown, ensure_ascii=False)
    assert "“A lighthouse in a storm”" in text and f"Video for <@{USER}>" in text
    assert f"veo-3 · 8 s · 1080p · 9:16 · est. $2.80 · job {job.id} · $0.40 charged" in text
    assert f"<{thread_link(job)}|the video, in its thread>" in text
    assert message_problem({"channel": ELSEWHERE, **shown}) is None
    assert len(bot.perf.creates) == 1  # nothing is made again

    # A video Slack did not take as a file is shown by its link.
    await bot.services.store.update_job(job, delivered_as_link=True)
    linked = json.dumps(answer((await bot.command(f"show {job.id.upper()}")).body))
    assert f"<{job.video_url}|the video>" in linked and f"<{thread_link(job)}|its thread>" in linked


async def test_only_the_requester_or_an_admin_may_show_a_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    [job] = await made(bot, "A lighthouse")
    bot.slack.add_user(ADMIN, is_admin=True)

    refused = await bot.command(f"show {job.id}", user=BOB)
    assert "Only the person who asked for" in private_text(refused)
    shown = answer((await bot.command(f"show {job.id}", user=ADMIN)).body)
    assert shown["response_type"] == "in_channel" and f"Brought back by <@{ADMIN}>" in json.dumps(shown)


async def test_show_answers_privately_what_it_cannot_show(make_bot: MakeBot) -> None:
    bot = await make_bot()
    [done] = await made(bot, "A lighthouse")
    bot.perf.outcome = "failed"
    [failed] = [job for job in await made(bot, "A storm") if job.id != done.id]
    await bot.command("A glacier")  # stored, not yet started
    [waiting] = [job for job in await bot.services.store.jobs() if job.prompt == "A glacier"]

    assert "Which job?" in private_text(await bot.command("show"))
    assert "There is no job `vb_nope`" in private_text(await bot.command("show vb_nope"))
    assert "There is no job `vb_aaaaaaaaaa`" in private_text(await bot.command("show vb_aaaaaaaaaa"))
    unfinished = private_text(await bot.command(f"show {waiting.id}"))
    assert f"`{waiting.id}` isn't finished yet" in unfinished
    no_video = private_text(await bot.command(f"show {failed.id}"))
    assert f"`{failed.id}` has no video to show: ❌ Failed: Content policy violation" in no_video


async def test_history_lists_the_persons_last_jobs_with_those_words(make_bot: MakeBot) -> None:
    bot = await make_bot()
    jobs = await made(bot, "A lighthouse in a storm", "A quiet lighthouse at dawn", "Storm over the sea")
    await made(bot, "A lighthouse of bob's", user=BOB)
    storm, dawn, sea = jobs

    found = await bot.command("history LIGHTHOUSE")
    text = private_text(found)
    assert "*Your last 2 jobs with “lighthouse”*" in text
    # Newest first, each with its thread; Bob's jobs are his.
    assert text.index(dawn.id) < text.index(storm.id) and sea.id not in text and "bob's" not in text
    assert f"<{thread_link(dawn)}|thread>" in json.dumps(answer(found.body))
    both = private_text(await bot.command("history storm, a"))
    assert storm.id in both and sea.id not in both and dawn.id not in both  # every word must be there
    everything = private_text(await bot.command("history"))
    assert "*Your last 3 jobs*" in everything and all(job.id in everything for job in jobs)
    assert "None of your jobs has “glacier”" in private_text(await bot.command("history glacier"))
    assert "at most 8 words" in private_text(await bot.command("history a b c d e f g h i"))


async def test_history_stays_within_its_limit_and_a_prompt_with_options_is_still_a_prompt(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    long_prompt = "storm " + "x" * 1_900
    await made(bot, *[f"{long_prompt} {n}" for n in range(HISTORY_LIMIT + 2)])
    found = await bot.command("history storm")
    assert f"*Your last {HISTORY_LIMIT} jobs with “storm”*" in private_text(found)
    assert message_problem({"channel": CHANNEL, **answer(found.body)}) is None

    await bot.command("history of rome --duration 4")
    await bot.run_jobs()
    assert bot.perf.creates[-1]["prompt"] == "history of rome"


def test_show_and_history_of_the_longest_prompts_are_messages_slack_takes_and_never_ping() -> None:
    prompt = ("Tom & Jerry <chase> <!channel> " * 70)[:MAX_PROMPT_CHARS]
    done: dict[str, Any] = {"state": JobState.DELIVERED, "root_ts": "1700000000.000100", "perf_cost_micros": 280_000}
    link = "https://acme.slack.com/archives/C0DESIGN/p1700000000000100"
    job = stored_job(
        prompt=prompt, delivered_as_link=True, video_url="https://storage.withperf.pro/" + "v" * 900, **done
    )
    shown = messages.show_message(job, link, ADMIN)
    jobs = [stored_job(prompt=prompt, **done) for _ in range(HISTORY_LIMIT)]
    listed = messages.history_message(jobs, ("tom", "jerry", "<!channel>"), {j.id: link for j in jobs})
    for message in (shown, listed):
        assert message_problem({"channel": CHANNEL, **message}) is None
        assert "<!channel>" not in json.dumps(message)
    assert all(j.id in listed["text"] for j in jobs)  # all ten fit


async def test_a_jobs_words_are_indexed_by_its_first_step_once_also_after_a_restart(make_bot: MakeBot) -> None:
    bot = await make_bot()
    # Stopped after storing the job, before its first step: the command's wake must not run one meanwhile.
    await bot.services.poller.stop(0.0)
    await bot.command("A lighthouse in a storm")
    restarted = await make_bot()
    assert "None of your jobs has" in private_text(await restarted.command("history storm"))
    await restarted.run_jobs()
    [job] = await restarted.services.store.jobs()
    await restarted.services.store.index_words(job)  # as a first step tried again would
    text = private_text(await restarted.command("history storm lighthouse"))
    assert "*Your last job with “storm lighthouse”*" in text and text.count(job.id) == 1


async def test_show_and_history_give_a_styled_prompt_as_its_message_does_and_mark_a_draft(make_bot: MakeBot) -> None:
    bot = await make_bot()
    [draft] = await made(bot, "A lighthouse --model veo-3 --duration 8 --style 'soft light' --draft")
    [root] = bot.slack.roots(CHANNEL)
    assert "“A lighthouse” + style: soft light" in root.all_text()

    shown = json.dumps(answer((await bot.command(f"show {draft.id}")).body), ensure_ascii=False)
    assert "“A lighthouse” + style: soft light" in shown  # the person's words, and what was added to them
    assert "✏️ A draft: a cheap preview. *Make the full version* is on its message." in shown
    assert "luma-dream-machine · 2 s · 720p" in shown

    history = private_text(await bot.command("history lighthouse"))
    assert f"`{draft.id}` · ✅ Done in" in history and "“A lighthouse” + style: soft light" in history
    assert " · ✏️ draft · luma-dream-machine · $0.40 · " in history


async def test_history_while_slack_does_not_say_the_workspace_url_names_the_channel_then_links_once_it_does(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    [job] = await made(bot, "A lighthouse")
    bot.slack.fail_next("auth.test", error="internal_error")
    assert f"<#{CHANNEL}>" in private_text(await bot.command("history"))
    assert f"<{thread_link(job)}|thread>" in private_text(await bot.command("history"))
    asked = bot.slack.call_count("auth.test")
    await bot.command("history")
    assert bot.slack.call_count("auth.test") == asked  # asked once it answered, not once a command
