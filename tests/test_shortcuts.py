"""Starting a video from anywhere: a message's shortcut, the global shortcut, App Home's button."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import CHANNEL, USER, MakeBot
from tests.test_form import payload_body, state
from tests.test_home import home_opened

OTHER = "C0OTHER"
MESSAGE_TEXT = (
    "<@U0ALICE> wants *a lighthouse* in a _storm_, like <https://example.com/ref|this reference> "
    "from <#C0DESIGN|design> <!here> :ocean: Tom &amp; Jerry"
)


def message_shortcut(text: str = MESSAGE_TEXT, thread_ts: str | None = None) -> str:
    message: dict[str, Any] = {"type": "message", "user": "U0ALICE", "ts": "1699999999.000100", "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return payload_body(
        {
            "type": "message_action",
            "callback_id": "video_from_message",
            "trigger_id": "9.9.9",
            "team": {"id": "T0001"},
            "user": {"id": USER},
            "channel": {"id": CHANNEL},
            "message": message,
            "response_url": "https://hooks.example/x",
        }
    )


def global_shortcut() -> str:
    return payload_body(
        {
            "type": "shortcut",
            "callback_id": "new_video",
            "trigger_id": "8.8.8",
            "team": {"id": "T0001"},
            "user": {"id": USER},
        }
    )


def submit(view: dict[str, Any], view_state: dict[str, Any]) -> str:
    submitted = {**view, "id": "V0001", "hash": "V0001-1", "state": view_state}
    return payload_body({"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": USER}, "view": submitted})


def prompt_field(view: dict[str, Any]) -> str:
    [prompt] = [b for b in view["blocks"] if b.get("block_id") == "prompt"]
    return str(prompt["element"]["initial_value"])


def picked(channel: str) -> dict[str, Any]:
    values = state()
    values["values"]["channel"] = {"channel": {"type": "conversations_select", "selected_conversation": channel}}
    return values


async def test_make_a_video_of_a_message_opens_the_form_with_its_text_as_plain_words(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user("U0ALICE", real_name="Alice")
    assert (await bot.interaction(message_shortcut())).status == 200
    assert bot.slack.opened_with == ["9.9.9"]
    [view] = bot.slack.views.values()
    assert prompt_field(view) == ("Alice wants a lighthouse in a storm, like this reference from #design Tom & Jerry")
    assert json.loads(view["private_metadata"]) == {"channel_id": CHANNEL}

    assert (await bot.interaction(submit(view, state(prompt=prompt_field(view))))).status == 200
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "Alice wants a lighthouse" in root.text and "<@U0ALICE>" not in root.text
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1


async def test_a_message_in_a_thread_gets_its_video_job_in_that_thread(make_bot: MakeBot) -> None:
    bot = await make_bot()
    parent = "1699999000.000001"
    await bot.interaction(message_shortcut("A whale breaching at dawn", thread_ts=parent))
    [view] = bot.slack.views.values()
    assert json.loads(view["private_metadata"]) == {"channel_id": CHANNEL, "thread_ts": parent}
    await bot.interaction(submit(view, state(prompt="A whale breaching at dawn")))
    await bot.run_jobs()
    assert bot.slack.roots(CHANNEL) == []  # nothing at the channel's top level
    in_thread = bot.slack.thread(CHANNEL, parent)
    assert len(in_thread) == 2 and "A whale breaching" in in_thread[0].text  # the root, then its progress
    assert "✅ Done" in in_thread[1].text
    assert len(bot.slack.files_in_thread(CHANNEL, parent)) == 1


async def test_the_global_shortcut_asks_for_a_channel_and_answers_a_wrong_pick_on_the_field(make_bot: MakeBot) -> None:
    bot = await make_bot(allowed_channels=(CHANNEL,))
    assert (await bot.interaction(global_shortcut())).status == 200
    [view] = bot.slack.views.values()
    [channel_block] = [b for b in view["blocks"] if b.get("block_id") == "channel"]
    assert channel_block["element"]["type"] == "conversations_select"

    refused = await bot.interaction(submit(view, picked(OTHER)))
    errors = json.loads(refused.body)["errors"]
    assert list(errors) == ["channel"] and "isn't switched on for this channel" in errors["channel"]
    assert await bot.services.store.jobs() == []

    assert (await bot.interaction(submit(view, picked(CHANNEL)))).status == 200
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1


async def test_app_home_has_a_new_video_button_that_opens_the_form(make_bot: MakeBot) -> None:
    bot = await make_bot()
    body = payload_body(
        {
            "type": "block_actions",
            "trigger_id": "7.7.7",
            "user": {"id": USER},
            "view": {"type": "home", "id": "VHOME"},
            "actions": [{"action_id": "home_new_video", "block_id": "new_video", "action_ts": "1"}],
        }
    )
    await bot.event(home_opened(USER))
    [home] = bot.slack.homes[USER]
    assert any(e.get("action_id") == "home_new_video" for b in home["blocks"] for e in b.get("elements", []))
    assert (await bot.interaction(body)).status == 200
    assert bot.slack.opened_with == ["7.7.7"]
    [view] = bot.slack.views.values()
    assert json.loads(view["private_metadata"]) == {"channel_id": "", "pick_channel": True}
