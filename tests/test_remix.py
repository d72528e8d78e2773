"""Remix: the Remix button opens the form prefilled with a job's prompt and settings; its submission starts
one new job for the person remixing, linked to the original, checked like any job."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from bot import messages
from bot.domain.job import JobState
from bot.domain.request import MAX_PROMPT_CHARS
from tests.conftest import (
    CHANNEL,
    USER,
    Bot,
    MakeBot,
    button_click_body,
    form_state,
    private_text,
    view_submission_body,
)
from tests.fakes.blockkit import view_problem
from tests.fakes.jobs import stored_job
from tests.fakes.slack import FakeMessage
from tests.test_shortcuts import message_shortcut

BOB = "UBOB0002"
DM = f"D{USER}"


def remix_click(root: FakeMessage, *, user: str = BOB, channel: str = CHANNEL) -> str:
    [button] = [
        b for block in root.blocks if block["type"] == "actions" for b in block["elements"] if b["action_id"] == "remix"
    ]
    return button_click_body(root.ts, button["value"], user=user, channel=channel, action_id="remix")


def submission(view_id: str, view: dict[str, Any], *, user: str = BOB, **changed: str) -> str:
    return view_submission_body(view_id, view, user=user, **changed)


def cost_line(view: dict[str, Any]) -> str:
    [cost] = [b for b in view["blocks"] if b.get("block_id") == "cost"]
    return str(cost["elements"][0]["text"])


async def finished(bot: Bot, text: str = "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16") -> FakeMessage:
    await bot.command(text)
    await bot.run_jobs()
    return bot.slack.roots(DM if "--private" in text else CHANNEL)[-1]


async def open_remix(
    bot: Bot, root: FakeMessage, *, user: str = BOB, channel: str = CHANNEL
) -> tuple[str, dict[str, Any]]:
    assert (await bot.interaction(remix_click(root, user=user, channel=channel))).status == 200
    view_id = max(bot.slack.views)
    return view_id, bot.slack.views[view_id]


async def test_the_remix_button_opens_the_form_with_the_job_and_its_cost(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot)
    [actions] = [block for block in root.blocks if block["type"] == "actions"]
    assert [b["text"]["text"] for b in actions["elements"]][:2] == ["🔁 Run again", "🎛 Remix"]

    view_id, view = await open_remix(bot, root)
    assert view["title"]["text"] == "Remix a video"
    fields = form_state(view)["values"]
    assert fields["prompt"]["prompt"]["value"] == "A lighthouse in a storm"
    assert fields["model"]["form_model"]["selected_option"]["value"] == "veo-3"
    assert fields["duration"]["form_duration"]["value"] == "8"
    assert fields["aspect"]["aspect"]["selected_option"]["value"] == "9:16"
    assert fields["resolution"]["resolution"]["selected_option"]["value"] == "1080p"
    # The fake Perf charged $0.40 for the original; the form's own settings cost $2.80 at veo-3's price.
    assert cost_line(view) == "💰 Estimated cost: *$2.80* (veo-3, 8 s) · the original: $0.40 (veo-3, 8 s) · +$2.40"

    changed = {**view, "id": view_id, "hash": bot.slack.view_hashes[view_id], "state": form_state(view, duration="4")}
    action = {"action_id": "form_duration", "block_id": "duration", "value": "4", "action_ts": "1"}
    payload = {"type": "block_actions", "user": {"id": BOB}, "view": changed, "actions": [action]}
    await bot.interaction(urlencode({"payload": json.dumps(payload)}))
    assert cost_line(bot.slack.views[view_id]).endswith(
        "*$1.40* (veo-3, 4 s) · the original: $0.40 (veo-3, 8 s) · +$1.00"
    )
    assert len(bot.perf.creates) == 1  # opening and changing the form starts nothing


async def test_submitting_a_remix_starts_a_job_for_the_remixer_linked_to_the_original(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot)
    view_id, view = await open_remix(bot, root)

    response = await bot.interaction(
        submission(view_id, view, prompt="A lighthouse at dawn", model="pika", duration="3")
    )
    assert response.status == 200 and not response.body  # the modal closes
    await bot.run_jobs()

    _, created = bot.perf.creates
    assert created == {
        "prompt": "A lighthouse at dawn",
        "model": "pika",
        "duration_seconds": 3,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
    }
    _, remix_root = bot.slack.roots(CHANNEL)
    text = remix_root.all_text()
    permalink = f"https://acme.slack.com/archives/{CHANNEL}/p{root.ts.replace('.', '')}"
    assert f"Video for <@{BOB}>" in text and f"🎛 Remix of <{permalink}|this video>, by <@{BOB}>" in text
    assert "✅ Done" in text and len(bot.slack.files_in_thread(CHANNEL, remix_root.ts)) == 1
    original, remix = await bot.services.store.jobs()
    assert (remix.user_id, remix.rerun_of, remix.remix, remix.state) == (BOB, original.id, True, JobState.DELIVERED)
    history = private_text(await bot.command("history", user=BOB))
    assert f"`{remix.id}` · ✅ Done in " in history and " · 🎛 remix · pika · " in history


async def test_a_submission_starts_one_job_however_often_it_is_delivered_and_across_a_restart(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    root = await finished(bot)
    view_id, view = await open_remix(bot, root)
    body = submission(view_id, view, duration="4")

    await bot.interaction(body)
    await bot.interaction(body)  # Slack delivers the same submission again
    assert len(await bot.services.store.jobs()) == 2
    # The bot stops after storing the remix and before its job starts; the submission arrives once more.
    restarted = await make_bot()
    assert (await restarted.interaction(body)).status == 200
    await restarted.run_jobs()
    assert len(restarted.perf.creates) == 2
    remixes = [job for job in await restarted.services.store.jobs() if job.remix]
    assert [(job.state, job.duration_seconds) for job in remixes] == [(JobState.DELIVERED, Decimal(4))]

    # Another press of Remix is another form, and another job.
    second_id, second_view = await open_remix(restarted, root)
    assert second_id != view_id
    await restarted.interaction(submission(second_id, second_view, duration="5"))
    await restarted.run_jobs()
    assert len(restarted.perf.creates) == 3 and len(restarted.slack.roots(CHANNEL)) == 3


async def test_a_remix_of_a_private_job_stays_private_and_only_its_requester_can_remix_it(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot, "A glacier --private")

    # Only alice sees her DM; a click from anyone else there (or a forged one) opens nothing.
    await bot.interaction(remix_click(root, user=BOB, channel=DM))
    assert bot.slack.views == {}
    [(channel, user, text)] = bot.slack.ephemerals
    assert (channel, user) == (DM, BOB) and "Only the person who asked for a private video can remix it" in text

    view_id, view = await open_remix(bot, root, user=USER, channel=DM)
    assert "🔒 Only you will see it" in json.dumps(view, ensure_ascii=False)
    assert not [b for b in view["blocks"] if b.get("element", {}).get("type") == "checkboxes"]
    refused = json.loads((await bot.interaction(submission(view_id, view, user=BOB))).body)
    assert "Only the person who asked" in refused["errors"]["prompt"]
    assert len(await bot.services.store.jobs()) == 1

    await bot.interaction(submission(view_id, view, user=USER, prompt="A glacier at night"))
    await bot.run_jobs()
    assert bot.slack.roots(CHANNEL) == []
    _, remix_root = bot.slack.roots(DM)
    assert "🎛 Remix of" in remix_root.all_text() and "✅ Done" in remix_root.all_text()
    [remix] = [job for job in await bot.services.store.jobs() if job.remix]
    assert remix.private and remix.where == DM


async def test_a_remix_is_checked_against_the_catalogue_and_the_quotas(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=2)
    root = await finished(bot)
    view_id, view = await open_remix(bot, root)

    wrong = json.loads((await bot.interaction(submission(view_id, view, duration="61"))).body)
    assert list(wrong["errors"]) == ["duration"] and "up to 60 s" in wrong["errors"]["duration"]
    await bot.command("Another one")  # the channel's second job of the day
    full = json.loads((await bot.interaction(submission(view_id, view, duration="4"))).body)
    assert "This channel has used its 2 jobs for today" in full["errors"]["prompt"]
    await bot.run_jobs()
    assert len(bot.perf.creates) == 2 and not [job for job in await bot.services.store.jobs() if job.remix]


async def test_a_remix_whose_original_is_gone_says_so_on_the_form(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot)
    view_id, view = await open_remix(bot, root)
    metadata = json.loads(view["private_metadata"])
    metadata["remix"][0] = "vb_gone000000"
    body = json.loads(await _refused_body(bot, view_id, {**view, "private_metadata": json.dumps(metadata)}))
    assert "I can't find the video you wanted to remix" in body["errors"]["prompt"]
    assert len(await bot.services.store.jobs()) == 1


async def _refused_body(bot: Bot, view_id: str, view: dict[str, Any]) -> str:
    return str((await bot.interaction(submission(view_id, view))).body)


def test_the_remix_form_of_the_longest_prompt_is_a_view_slack_takes() -> None:
    prompt = ("Tom & Jerry <chase> <!channel> " * 70)[:MAX_PROMPT_CHARS]
    job = stored_job(prompt=prompt, private=True, perf_cost_micros=280_000, thread_ts="1700000000.000001")
    view = messages.remix_form(job)
    assert view_problem(view) is None
    place = messages.form_place(view)
    assert (place.remix_of, place.remix_cost_micros, place.remix_private) == (job.id, 280_000, True)
    assert (place.channel_id, place.thread_ts) == (CHANNEL, "1700000000.000001")
    # What the person changes is carried over; the original's cost stays beside it.
    values = messages.FormValues(prompt=prompt, model="veo-3", duration="60")
    again = messages.video_form(CHANNEL, values, place=place)
    assert view_problem(again) is None
    assert "the original: $0.28 (pika, 4 s) · +$20.72" in json.dumps(again, ensure_ascii=False)


def test_a_remix_of_a_retired_model_opens_on_the_default_model_and_says_so() -> None:
    view = messages.remix_form(stored_job(model="sora-1", perf_cost_micros=500_000))
    assert form_state(view)["values"]["model"]["form_model"]["selected_option"]["value"] == "runway-gen3"
    assert "the original: $0.50 (sora-1, 4 s, a model no longer offered)" in cost_line(view)


async def test_a_remix_made_private_goes_to_the_remixers_direct_message_not_to_the_originals_thread(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    parent = "1700000000.000777"
    await bot.interaction(message_shortcut("A whale breaching at dawn", thread_ts=parent))
    view_id = max(bot.slack.views)
    await bot.interaction(submission(view_id, bot.slack.views[view_id], user=USER))
    await bot.run_jobs()
    [root, _] = bot.slack.thread(CHANNEL, parent)  # the job's root in that thread, and its progress

    view_id, view = await open_remix(bot, root)
    assert (await bot.interaction(submission(view_id, view, private="private"))).status == 200
    await bot.run_jobs()
    bob_dm = f"D{BOB}"
    [remix_root] = bot.slack.roots(bob_dm)  # a message of its own in bob's DM, not in a thread of another conversation
    assert "🎛 Remix of" in remix_root.all_text() and "✅ Done" in remix_root.all_text()
    assert len(bot.slack.files_in_thread(bob_dm, remix_root.ts)) == 1
    assert len(bot.slack.thread(CHANNEL, parent)) == 2  # nothing of the private remix in the channel


async def test_a_remix_whose_prompt_no_longer_ends_with_the_style_does_not_say_it_was_added(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot, "A lighthouse --style 'soft light'")
    view_id, view = await open_remix(bot, root)
    assert form_state(view)["values"]["prompt"]["prompt"]["value"] == "A lighthouse, soft light"

    await bot.interaction(submission(view_id, view, prompt="A lighthouse at dawn"))
    await bot.interaction(submission(f"{view_id}-b", view, prompt="A lighthouse at dusk, soft light"))
    await bot.run_jobs()
    # The two remixes may reach Perf in either order.
    assert sorted(c["prompt"] for c in bot.perf.creates[1:]) == [
        "A lighthouse at dawn",
        "A lighthouse at dusk, soft light",
    ]
    [edited] = [r for r in bot.slack.roots(CHANNEL) if "dawn" in r.text]
    [kept] = [r for r in bot.slack.roots(CHANNEL) if "dusk" in r.text]
    assert "— “A lighthouse at dawn” ·" in edited.text and "style" not in edited.all_text()
    assert "— “A lighthouse at dusk” + style: soft light" in kept.text  # still ends with it: still shown apart


async def test_a_remix_of_a_draft_is_another_draft_of_the_settings_asked_for_unless_unticked(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot, "A lighthouse --model veo-3 --duration 8 --ar 9:16 --draft")
    view_id, view = await open_remix(bot, root)
    fields = form_state(view)["values"]
    assert fields["model"]["form_model"]["selected_option"]["value"] == "veo-3"  # what was asked for, not the preview
    assert fields["duration"]["form_duration"]["value"] == "8"
    assert fields["draft"]["draft"]["selected_options"]  # "Draft first" ticked, as the original was a draft
    assert cost_line(view) == (
        "💰 Estimated cost: *$0.12* for the draft (luma-dream-machine, 2 s), then $2.80 for the full version"
        " · the original: $0.40 (luma-dream-machine, 2 s) · −$0.28"
    )

    await bot.interaction(submission(view_id, view, prompt="A lighthouse at dawn"))
    await bot.run_jobs()
    remix_root = bot.slack.roots(CHANNEL)[-1]
    text = remix_root.all_text()
    assert (
        "🎛 Remix of" in text and "✏️ Draft: a cheap preview of what was asked for (veo-3 · 8 s · 1080p · 9:16)" in text
    )
    assert bot.perf.creates[-1]["model"] == "luma-dream-machine"
    await bot.interaction(
        button_click_body(remix_root.ts, "-", user=BOB, action_id="full_version", action_ts="1700001000.7")
    )
    await bot.run_jobs()
    assert (bot.perf.creates[-1]["prompt"], bot.perf.creates[-1]["model"]) == ("A lighthouse at dawn", "veo-3")

    # Unticked, the remix is the video itself, at the settings asked for.
    view_id, view = await open_remix(bot, root)
    await bot.interaction(submission(view_id, view, draft=""))
    await bot.run_jobs()
    assert (bot.perf.creates[-1]["model"], bot.perf.creates[-1]["duration_seconds"]) == ("veo-3", 8)
    assert "✏️ Draft" not in bot.slack.roots(CHANNEL)[-1].all_text()


async def test_ticking_draft_first_shows_what_the_draft_and_then_the_full_version_cost(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await finished(bot)
    view_id, view = await open_remix(bot, root)
    assert "draft" not in form_state(view)["values"]  # a remix of a finished video is not offered a preview
    await bot.command("")  # the plain form
    view_id = max(bot.slack.views)
    view = bot.slack.views[view_id]
    ticked = {**view, "id": view_id, "hash": bot.slack.view_hashes[view_id], "state": form_state(view, draft="draft")}
    action = {"action_id": "draft", "block_id": "draft", "selected_options": [{"value": "draft"}], "action_ts": "1"}
    payload = {"type": "block_actions", "user": {"id": USER}, "view": ticked, "actions": [action]}
    assert (await bot.interaction(urlencode({"payload": json.dumps(payload)}))).status == 200
    assert cost_line(bot.slack.views[view_id]) == (
        "💰 Estimated cost: *$0.12* for the draft (luma-dream-machine, 2 s), then $0.40 for the full version"
    )
