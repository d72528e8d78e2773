"""The form a bare `/video` opens, and private jobs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from bot.domain.job import JobState
from tests.conftest import CHANNEL, USER, MakeBot

DM = f"D{USER}"


def state(
    prompt: str = "A lighthouse", model: str = "veo-3", duration: str = "8", private: bool = False
) -> dict[str, Any]:
    return {
        "values": {
            "prompt": {"prompt": {"type": "plain_text_input", "value": prompt}},
            "model": {"form_model": {"type": "static_select", "selected_option": {"value": model}}},
            "duration": {"form_duration": {"type": "plain_text_input", "value": duration}},
            "aspect": {"aspect": {"type": "static_select", "selected_option": {"value": "9:16"}}},
            "resolution": {"resolution": {"type": "static_select", "selected_option": {"value": "720p"}}},
            "private": {
                "private": {"type": "checkboxes", "selected_options": [{"value": "private"}] if private else []}
            },
        }
    }


def payload_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def submission(view_state: dict[str, Any], channel: str = CHANNEL, view_id: str = "V0001") -> str:
    view = {
        "type": "modal",
        "id": view_id,
        "hash": f"{view_id}-1",
        "callback_id": "video_form",
        "private_metadata": json.dumps({"channel_id": channel}),
        "state": view_state,
    }
    return payload_body({"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": USER}, "view": view})


def cost_text(view: dict[str, Any]) -> str:
    [cost] = [b for b in view["blocks"] if b.get("block_id") == "cost"]
    return str(cost["elements"][0]["text"])


async def test_a_bare_command_opens_the_form_and_help_still_answers(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.command("")
    assert response.status == 200 and response.body == ""
    assert bot.slack.opened_with == ["1.2.3"]
    [view] = bot.slack.views.values()
    assert view["callback_id"] == "video_form" and json.loads(view["private_metadata"]) == {"channel_id": CHANNEL}
    [model_block] = [b for b in view["blocks"] if b.get("block_id") == "model"]
    labels = [o["text"]["text"] for o in model_block["element"]["options"]]
    assert "veo-3 — up to 60 s, $0.35/s" in labels
    assert "/video <prompt>" in json.loads((await bot.command("help")).body)["text"]


async def test_the_cost_is_recomputed_as_model_and_duration_change(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("")
    [(view_id, view)] = bot.slack.views.items()
    assert "$0.40" in cost_text(view)  # the defaults: runway-gen3, 4 s
    changed = {**view, "id": view_id, "hash": bot.slack.view_hashes[view_id], "state": state(duration="8")}
    body = payload_body(
        {
            "type": "block_actions",
            "user": {"id": USER},
            "view": changed,
            "actions": [{"action_id": "form_duration", "block_id": "duration", "value": "8", "action_ts": "1"}],
        }
    )
    assert (await bot.interaction(body)).status == 200
    assert "*$2.80* (veo-3, 8 s)" in cost_text(bot.slack.views[view_id])
    too_long = {**changed, "hash": bot.slack.view_hashes[view_id], "state": state(duration="61")}
    action = {"action_id": "form_duration", "block_id": "duration", "value": "61", "action_ts": "2"}
    await bot.interaction(
        payload_body({"type": "block_actions", "user": {"id": USER}, "view": too_long, "actions": [action]})
    )
    assert "veo-3 goes up to 60 s" in cost_text(bot.slack.views[view_id])


async def test_mistakes_are_shown_on_their_field_and_create_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.interaction(submission(state(duration="61")))
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["duration"] and "up to 60 s" in body["errors"]["duration"]
    body = json.loads((await bot.interaction(submission(state(prompt="   ")))).body)
    assert list(body["errors"]) == ["prompt"]
    await bot.run_jobs()
    assert bot.perf.create_requests == 0 and await bot.services.store.jobs() == []


async def test_submitting_the_form_starts_the_same_job_as_the_command(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.interaction(submission(state()))
    assert response.status == 200 and not response.body
    await bot.run_jobs()
    [created] = bot.perf.creates
    assert created == {
        "prompt": "A lighthouse",
        "model": "veo-3",
        "duration_seconds": 8,
        "resolution": "720p",
        "aspect_ratio": "9:16",
    }
    [root] = bot.slack.roots(CHANNEL)
    assert "✅ Done" in root.all_text()


async def test_a_submission_starts_one_job_however_often_it_is_delivered_and_across_a_restart(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    # The bot stops after storing the job and before it starts (its wake must not run a step meanwhile).
    await bot.services.poller.stop(0.0)
    body = submission(state(), view_id="V0042")
    assert (await bot.interaction(body)).status == 200
    assert (await bot.interaction(body)).status == 200  # Slack delivers it again: the first answer was slow
    assert len(await bot.services.store.jobs()) == 1 and bot.perf.creates == []
    # Restarted, the bot gets the submission once more.
    restarted = await make_bot()
    response = await restarted.interaction(body)
    assert response.status == 200 and not response.body  # the modal closes, as the first time
    await restarted.run_jobs()
    assert len(restarted.perf.creates) == 1 and len(restarted.slack.roots(CHANNEL)) == 1
    [job] = await restarted.services.store.jobs()
    assert job.state == JobState.DELIVERED

    # Another form (another view) is another job.
    await restarted.interaction(submission(state(prompt="A glacier"), view_id="V0043"))
    await restarted.run_jobs()
    assert [c["prompt"] for c in restarted.perf.creates] == ["A lighthouse", "A glacier"]


async def test_a_refused_submission_stores_nothing_so_the_same_form_fixed_starts_its_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    refused = await bot.interaction(submission(state(duration="61"), view_id="V0050"))
    assert "veo-3 makes videos of up to 60 s" in json.loads(refused.body)["errors"]["duration"]
    assert (await bot.interaction(submission(state(duration="6"), view_id="V0050"))).status == 200
    await bot.run_jobs()
    assert [c["duration_seconds"] for c in bot.perf.creates] == [6]


async def test_a_private_job_is_made_in_a_direct_message_and_never_posts_in_the_channel(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=2)
    await bot.interaction(submission(state(private=True)))
    await bot.command("A glacier --private")
    await bot.run_jobs()
    assert bot.slack.roots(CHANNEL) == []
    assert all(m.channel == DM for m in bot.slack.messages)
    roots = bot.slack.roots(DM)
    assert len(roots) == 2 and all("✅ Done" in r.all_text() for r in roots)
    assert all(len(bot.slack.files_in_thread(DM, r.ts)) == 1 for r in roots)
    jobs = await bot.services.store.jobs()
    assert all(j.private and j.channel_id == CHANNEL and j.state == JobState.DELIVERED for j in jobs)
    # They still count against the channel's quota.
    refused = json.loads((await bot.command("A third one")).body)
    assert "This channel has used its 2 jobs for today" in refused["text"]
