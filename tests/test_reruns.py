"""Reruns: a 🔁 reaction or the "Run again" button on a job's root message runs its prompt again, once."""

from __future__ import annotations

from bot.domain.job import JobState
from tests.conftest import CHANNEL, USER, Bot, MakeBot, button_click_body, reaction_event_body
from tests.fakes.slack import BOT_USER_ID, FakeMessage

BOB = "UBOB0002"
CAROL = "UCAROL03"


async def finished_job(
    bot: Bot, text: str = "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16"
) -> FakeMessage:
    await bot.command(text)
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    return root


async def test_a_repeat_reaction_runs_the_same_prompt_again_for_the_person_who_reacted(make_bot: MakeBot) -> None:
    bot = await make_bot()
    original_root = await finished_job(bot)
    assert "React with 🔁 to run this prompt again" in original_root.all_text()

    response = await bot.event(reaction_event_body(original_root.ts, user=BOB))
    assert response.status == 200
    await bot.run_jobs()

    first, second = bot.perf.creates
    assert (
        second
        == first
        == {
            "prompt": "A lighthouse in a storm",
            "model": "veo-3",
            "duration_seconds": 8,
            "resolution": "1080p",
            "aspect_ratio": "9:16",
        }
    )
    old_root, new_root = bot.slack.roots(CHANNEL)
    assert old_root.ts == original_root.ts
    text = new_root.all_text()
    assert f"Video for <@{BOB}>" in text
    permalink = f"https://acme.slack.com/archives/{CHANNEL}/p{original_root.ts.replace('.', '')}"
    assert f"Another take of <{permalink}|this video>, asked for by <@{BOB}>" in text
    assert "✅ Done" in text
    assert len(bot.slack.files_in_thread(CHANNEL, new_root.ts)) == 1

    original, rerun = await bot.services.store.jobs()
    assert (rerun.user_id, rerun.rerun_of, rerun.state) == (BOB, original.id, JobState.DELIVERED)
    assert original.user_id == USER


async def test_redelivered_events_re_added_reactions_and_restarts_make_one_rerun_per_person(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)

    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"))
    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"), retry_num=1)
    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"), retry_num=2)
    # Bob removes his reaction and adds it again: a new event for the same person and message.
    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev2"))
    restarted = await make_bot()
    await restarted.event(reaction_event_body(root.ts, user=BOB, event_id="Ev3"))
    await restarted.run_jobs()
    assert len(bot.perf.creates) == 2

    # Someone else wants their own take: that is another rerun.
    await restarted.event(reaction_event_body(root.ts, user=CAROL, event_id="Ev4"))
    await restarted.run_jobs()
    assert len(bot.perf.creates) == 3
    assert [job.user_id for job in await restarted.services.store.jobs()] == [USER, BOB, CAROL]
    assert len(bot.slack.roots(CHANNEL)) == 3


async def test_other_emoji_other_messages_and_bots_start_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    bot.slack.add_user("UOTHERBOT", is_bot=True)
    bot.slack.add_user("UGONE001", deleted=True)

    ignored = [
        reaction_event_body(root.ts, reaction="thumbsup"),
        reaction_event_body(root.ts, reaction="repeat_one"),
        reaction_event_body(progress.ts),  # the bot's reply in the thread
        reaction_event_body("1699999999.000001"),  # somebody else's message
        reaction_event_body(root.ts, channel="C0THER01"),  # same ts, another channel
        reaction_event_body(root.ts, item_type="file"),
        reaction_event_body(root.ts, user="UOTHERBOT"),
        reaction_event_body(root.ts, user="UGONE001"),
        reaction_event_body(root.ts, user=BOT_USER_ID),
    ]
    for number, body in enumerate(ignored):
        response = await bot.event(body.replace("Ev0001", f"Ev9{number}"))
        assert response.status == 200
    await bot.run_jobs()

    assert len(bot.perf.creates) == 1
    assert len(bot.slack.roots(CHANNEL)) == 1
    assert bot.slack.ephemerals == []
    assert len(await bot.services.store.jobs()) == 1


async def test_the_rerun_emoji_are_configurable(make_bot: MakeBot) -> None:
    bot = await make_bot(rerun_emoji=("arrows_counterclockwise", "partyparrot"))
    root = await finished_job(bot)
    assert "React with 🔄 to run this prompt again" in root.all_text()

    await bot.event(reaction_event_body(root.ts, reaction="repeat", user=BOB, event_id="Ev1"))
    await bot.event(reaction_event_body(root.ts, reaction="partyparrot", user=BOB, event_id="Ev2"))
    await bot.run_jobs()
    assert len(bot.perf.creates) == 2


async def test_a_rerun_that_is_no_longer_valid_is_refused_privately(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    # The catalogue changed since the job ran: its model is gone.
    job = await bot.only_job()
    await bot.services.store.update_job(job, model="sora-1")

    await bot.event(reaction_event_body(root.ts, user=BOB))
    await bot.run_jobs()

    [(channel, user, text)] = bot.slack.ephemerals
    assert (channel, user) == (CHANNEL, BOB)
    assert "I can't run that prompt again" in text and "There is no model `sora-1`" in text
    assert len(bot.perf.creates) == 1 and len(bot.slack.roots(CHANNEL)) == 1


async def test_when_slack_cannot_say_who_reacted_nothing_starts_and_the_reaction_can_be_tried_again(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    # Bob's language is known already (asked in the background when he first appears): the failure below is
    # the rerun's own check of who reacted.
    await bot.services.people.language("T0001", BOB)
    await bot.services.people.wait_idle()
    bot.slack.fail_next("users.info", error="internal_error")

    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"))
    [(_, user, text)] = bot.slack.ephemerals
    assert user == BOB and "Nothing was started" in text
    assert len(await bot.services.store.jobs()) == 1

    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev2"))
    await bot.run_jobs()
    assert len(bot.perf.creates) == 2


async def test_the_run_again_button_reruns_once_per_click(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    [button] = [
        element
        for block in root.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "rerun"
    ]
    job = await bot.only_job()

    first_click = button_click_body(root.ts, button["value"], user=BOB, action_ts="1700001000.000001")
    assert (await bot.interaction(first_click)).status == 200
    await bot.interaction(first_click)  # the same click, delivered twice
    await bot.run_jobs()
    assert len(bot.perf.creates) == 2

    second_click = button_click_body(root.ts, button["value"], user=BOB, action_ts="1700001005.000002")
    await bot.interaction(second_click)
    await bot.run_jobs()
    assert len(bot.perf.creates) == 3
    reruns = [j for j in await bot.services.store.jobs() if j.rerun_of == job.id]
    assert [j.user_id for j in reruns] == [BOB, BOB]
    assert all(j.state == JobState.DELIVERED for j in reruns)


async def test_a_rerun_of_a_rerun_links_to_its_own_original(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"))
    await bot.run_jobs()
    _, bobs_root = bot.slack.roots(CHANNEL)
    await bot.event(reaction_event_body(bobs_root.ts, user=CAROL, event_id="Ev2"))
    await bot.run_jobs()

    *_, carols_root = bot.slack.roots(CHANNEL)
    assert f"p{bobs_root.ts.replace('.', '')}|this video>, asked for by <@{CAROL}>" in carols_root.all_text()
    assert len(bot.perf.creates) == 3


async def test_without_a_permalink_the_rerun_names_the_original_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_job(bot)
    original = await bot.only_job()
    bot.slack.fail_next("chat.getPermalink", error="internal_error")
    await bot.event(reaction_event_body(root.ts, user=BOB))
    await bot.run_jobs()
    _, new_root = bot.slack.roots(CHANNEL)
    assert f"Another take of job {original.id}, asked for by <@{BOB}>" in new_root.all_text()
    assert "✅ Done" in new_root.all_text()
