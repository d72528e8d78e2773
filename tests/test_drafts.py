"""Draft first: `--draft` (or the form's draft choice) makes a cheap preview, and *Make the full version*
runs the settings asked for, once per click."""

from __future__ import annotations

import json
from decimal import Decimal

from bot import messages
from bot.domain import drafts
from bot.domain.job import JobState
from bot.domain.request import MAX_PROMPT_CHARS, VideoRequest
from tests.conftest import CHANNEL, USER, Bot, MakeBot, button_click_body, reaction_event_body
from tests.fakes.blockkit import message_problem
from tests.fakes.jobs import stored_job
from tests.fakes.slack import FakeMessage
from tests.test_form import state, submission

BOB = "UBOB0002"
FULL = {
    "prompt": "A lighthouse in a storm",
    "model": "veo-3",
    "duration_seconds": 8,
    "resolution": "1080p",
    "aspect_ratio": "9:16",
}
DRAFT = {**FULL, "model": "luma-dream-machine", "duration_seconds": 2, "resolution": "720p"}


def full_version_click(root: FakeMessage, job_id: str, *, user: str = BOB, action_ts: str = "1700001000.1") -> str:
    return button_click_body(
        root.ts, job_id, user=user, channel=root.channel, action_ts=action_ts, action_id="full_version"
    )


def buttons(message: FakeMessage) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


async def finished_draft(
    bot: Bot, text: str = "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16"
) -> FakeMessage:
    await bot.command(f"{text} --draft")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    return root


def test_a_draft_is_the_cheapest_model_for_two_seconds_at_720p_and_never_longer_than_the_full_version() -> None:
    assert drafts.draft_model().name == "luma-dream-machine"  # $0.06 a second, the catalogue's cheapest
    draft = drafts.draft_of(VideoRequest("A cat", "veo-3", Decimal(30), "1080p", "1:1", style="noir", draft=True))
    assert (draft.model, draft.duration_seconds, draft.resolution, draft.aspect_ratio) == (
        "luma-dream-machine",
        Decimal(2),
        "720p",
        "1:1",
    )
    assert draft.prompt_sent == "A cat, noir"
    assert drafts.draft_of(VideoRequest("A cat", "pika", Decimal("1.5"))).duration_seconds == Decimal("1.5")


async def test_a_draft_runs_cheap_says_what_the_full_version_costs_and_offers_it_when_done(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.command("A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16 --draft")
    assert response.status == 200 and response.body == ""
    await bot.step()
    [root] = bot.slack.roots(CHANNEL)
    text = root.all_text()
    assert "luma-dream-machine · 2 s · 720p · 9:16 · est. $0.12" in text
    assert "✏️ Draft: a cheap preview of what was asked for (veo-3 · 8 s · 1080p · 9:16)" in text
    assert "The full version will cost est. $2.80." in text
    assert "full_version" not in buttons(root)  # not before the draft is done
    await bot.run_jobs()

    assert bot.perf.creates == [DRAFT]
    [root] = bot.slack.roots(CHANNEL)
    assert "✅ Done" in root.all_text()
    assert buttons(root)[0] == "full_version" and "⏩ Make the full version" in root.all_text()

    draft = await bot.only_job()
    details = button_click_body(root.ts, draft.id, action_id="details", response_url=bot.slack.response_url("d"))
    await bot.interaction(details)
    [(_, answer)] = bot.slack.responses
    assert "• A draft of `--model veo-3 --duration 8 --resolution 1080p --aspect 9:16`" in answer["text"]


async def test_make_the_full_version_starts_one_job_per_click_across_redeliveries_double_clicks_and_restarts(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    root = await finished_draft(bot)
    draft = await bot.only_job()

    assert (await bot.interaction(full_version_click(root, draft.id))).status == 200
    await bot.interaction(full_version_click(root, draft.id))  # Slack delivers the same click again
    await bot.run_jobs()
    restarted = await make_bot()
    await restarted.interaction(full_version_click(root, draft.id))  # and again, after a restart
    await restarted.run_jobs()

    assert bot.perf.creates == [DRAFT, FULL]
    _, full_root = bot.slack.roots(CHANNEL)
    permalink = f"https://acme.slack.com/archives/{CHANNEL}/p{root.ts.replace('.', '')}"
    text = full_root.all_text()
    assert f"⏩ Full version of <{permalink}|this draft>, asked for by <@{BOB}>" in text
    assert "veo-3 · 8 s · 1080p · 9:16 · est. $2.80" in text and "✅ Done" in text
    assert "full_version" not in buttons(full_root) and "✏️ Draft" not in text
    _, full = await restarted.services.store.jobs()
    assert (full.user_id, full.rerun_of, full.full_of_draft, full.state) == (BOB, draft.id, True, JobState.DELIVERED)

    # A second, distinct click is another job, as for Run again.
    await restarted.interaction(full_version_click(root, draft.id, action_ts="1700001001.2"))
    await restarted.run_jobs()
    assert bot.perf.creates == [DRAFT, FULL, FULL]


async def test_the_forms_draft_choice_makes_a_draft_of_what_the_form_says(make_bot: MakeBot) -> None:
    bot = await make_bot()
    view_state = state(model="veo-3", duration="8")
    view_state["values"]["draft"] = {"draft": {"type": "checkboxes", "selected_options": [{"value": "draft"}]}}
    assert (await bot.interaction(submission(view_state))).status == 200
    await bot.run_jobs()

    [create] = bot.perf.creates
    assert (create["model"], create["duration_seconds"], create["resolution"]) == ("luma-dream-machine", 2, "720p")
    job = await bot.only_job()
    assert drafts.full_request(job) == VideoRequest("A lighthouse", "veo-3", Decimal(8), "720p", "9:16")
    [root] = bot.slack.roots(CHANNEL)
    assert "The full version will cost est. $2.80." in root.all_text()


async def test_a_full_version_that_can_no_longer_run_or_is_over_quota_is_refused_privately(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=2)
    root = await finished_draft(bot)
    draft = await bot.only_job()
    await bot.services.store.update_job(draft, full_settings="--model sora-1 --duration 8")
    await bot.interaction(full_version_click(root, draft.id))
    [(channel, user, text)] = bot.slack.ephemerals
    assert (channel, user) == (CHANNEL, BOB)
    assert "I can't make the full version of that draft as it was asked for: There is no model `sora-1`" in text

    await bot.services.store.update_job(draft, full_settings=drafts.full_settings(VideoRequest("x", "veo-3")))
    await bot.command("Another one")  # the channel's second and last job today
    await bot.interaction(full_version_click(root, draft.id, action_ts="1700001001.2"))
    assert "This channel has used its 2 jobs for today (2 started)" in bot.slack.ephemerals[-1][2]
    await bot.run_jobs()
    assert len(bot.perf.creates) == 2 and len(await bot.services.store.jobs()) == 2


async def test_the_full_version_of_a_private_draft_stays_private_and_keeps_its_style(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command('A lighthouse --style "soft light" --private --draft')
    await bot.run_jobs()
    dm = f"D{USER}"
    [root] = bot.slack.roots(dm)
    draft = await bot.only_job()
    await bot.interaction(full_version_click(root, draft.id, user=USER, action_ts="1700001002.3"))
    await bot.run_jobs()

    assert [c["prompt"] for c in bot.perf.creates] == ["A lighthouse, soft light"] * 2
    assert bot.slack.roots(CHANNEL) == []
    _, full_root = bot.slack.roots(dm)
    assert "“A lighthouse” + style: soft light" in full_root.all_text()


def test_the_root_of_a_draft_with_the_longest_prompt_and_style_fits_slack_and_keeps_the_style_shown() -> None:
    style = ("<b> & grain " * 100)[:900]
    words = ("Tom & Jerry <chase> " * 100)[: MAX_PROMPT_CHARS - len(style) - 2]
    full = VideoRequest(words, "veo-3", Decimal(8), style=style)
    for job_state in JobState:
        draft = stored_job(
            state=job_state,
            prompt=full.prompt_sent,
            style=style,
            full_settings=drafts.full_settings(full),
            root_ts="1700000000.000100",
        )
        message = messages.root_message(draft)
        assert message_problem(message) is None, job_state
        assert "+ style: &lt;b&gt; &amp; grain" in message["blocks"][0]["text"]["text"]
        assert "The full version will cost est. $2.80." in json.dumps(message, ensure_ascii=False)
        full_version = stored_job(
            state=job_state, prompt=full.prompt_sent, style=style, rerun_of="vb_1", full_of_draft=True
        )
        assert message_problem(messages.root_message(full_version)) is None, job_state


async def test_another_take_of_a_draft_is_a_draft_and_of_a_full_version_is_a_full_video(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished_draft(bot)
    draft = await bot.only_job()
    await bot.event(reaction_event_body(root.ts, user=BOB, event_id="Ev1"))
    await bot.interaction(full_version_click(root, draft.id))
    await bot.run_jobs()
    # The two were asked for at once: their roots may be posted in either order.
    [take] = [r for r in bot.slack.roots(CHANNEL) if "🔁 Another take of" in r.all_text()]
    [full_root] = [r for r in bot.slack.roots(CHANNEL) if "⏩ Full version of" in r.all_text()]
    assert "full_version" in buttons(take) and "The full version will cost est. $2.80." in take.all_text()

    await bot.event(reaction_event_body(full_root.ts, user=BOB, event_id="Ev2"))
    await bot.run_jobs()
    assert sorted(c["model"] for c in bot.perf.creates) == ["luma-dream-machine"] * 2 + ["veo-3"] * 2
    last = bot.slack.roots(CHANNEL)[-1]
    assert "🔁 Another take of" in last.all_text() and "full_version" not in buttons(last)
    assert "veo-3 · 8 s · 1080p" in last.all_text()
