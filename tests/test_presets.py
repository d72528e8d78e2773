"""Presets (issue 28): `/video preset save | list | delete`, `--preset`, and the precedence typed > preset >
the person's defaults > the channel's > Perf's."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.domain import presets
from bot.domain.defaults import Defaults, Effective, Source, apply
from bot.domain.request import CommandError, ErrorCode, PresetRequest, VideoRequest, parse_video_command
from tests.conftest import USER, Bot, MakeBot, form_state, private_text

ADMIN = "UADMIN01"
BOB = "UBOB0002"


def parsed(text: str) -> VideoRequest:
    request = parse_video_command(text)
    assert isinstance(request, VideoRequest), request
    return request


# --- pure: parsing and the rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preset", PresetRequest("list")),
        ("preset list", PresetRequest("list")),
        ("presets", PresetRequest("list")),
        (
            'preset save Teaser --model pika --duration 3 --aspect 9:16 --style "neon noir"',
            PresetRequest(
                "save", "teaser", options={"model": "pika", "duration": "3", "aspect": "9:16", "style": "neon noir"}
            ),
        ),
        ("preset save teaser --channel --model pika", PresetRequest("save", "teaser", True, {"model": "pika"})),
        ("preset delete teaser", PresetRequest("delete", "teaser")),
        ("preset delete teaser --channel", PresetRequest("delete", "teaser", True)),
    ],
)
def test_the_preset_subcommand_parses(text: str, expected: PresetRequest) -> None:
    assert parse_video_command(text) == expected


def test_a_prompt_that_starts_with_preset_is_still_a_prompt_and_one_off_options_are_not_in_a_preset() -> None:
    assert parsed("preset yourself for a storm").prompt == "preset yourself for a storm"
    refused = parse_video_command("preset save teaser --private")
    assert isinstance(refused, CommandError) and refused.code is ErrorCode.BAD_PRESET
    assert parsed("A rainy street --preset Teaser").preset == "teaser"
    assert "preset" not in parsed("A rainy street --preset teaser --model veo-3").typed


def test_typed_beats_the_preset_which_beats_yours_which_beats_the_channels() -> None:
    found = apply(
        parsed("A rainy street --duration 2 --preset teaser"),
        Defaults({"model": "veo-3", "aspect": "1:1", "resolution": "720p"}),
        Defaults({"style": "soft light", "aspect": "4:3"}),
        Defaults({"model": "pika", "duration": "3", "aspect": "9:16"}),
    )
    assert isinstance(found, Effective), found
    request = found.request
    assert (request.model, request.duration_seconds, request.aspect_ratio, request.resolution, request.style) == (
        "pika",
        Decimal(2),
        "9:16",
        "720p",
        "soft light",
    )
    assert found.sources == {
        "model": Source.PRESET,
        "duration": Source.TYPED,
        "aspect": Source.PRESET,
        "resolution": Source.YOURS,
        "style": Source.CHANNEL,
    }


def test_a_preset_setting_the_catalogue_no_longer_allows_is_skipped_and_the_defaults_apply() -> None:
    found = apply(parsed("A rainy street"), Defaults({"model": "veo-3"}), None, Defaults({"model": "sora-1"}))
    assert isinstance(found, Effective)
    assert found.request.model == "veo-3" and found.sources["model"] is Source.YOURS
    [skipped] = found.skipped
    assert (skipped.source, skipped.option, skipped.value) == (Source.PRESET, "model", "sora-1")


@pytest.mark.parametrize(
    ("name", "ok"),
    [("teaser", True), ("neon-noir_2", True), ("", False), ("a" * 33, False), ("Teaser!", False), ("-x", False)],
)
def test_preset_names_are_short_lower_case_words(name: str, ok: bool) -> None:
    assert (presets.name_problem(name) is None) is ok


def test_a_persons_preset_shadows_the_channels_of_the_same_name() -> None:
    mine = presets.Preset("teaser", presets.PERSON, {"model": "pika"})
    channels = presets.Preset("teaser", presets.CHANNEL, {"model": "veo-3"})
    other = presets.Preset("wide", presets.CHANNEL, {"aspect": "4:3"})
    assert presets.find([channels, mine, other], "Teaser") == mine
    assert presets.find([channels, other], "teaser") == channels
    assert presets.shadowed([channels, mine, other]) == {"teaser"}
    assert presets.names([channels, mine, other]) == ["teaser", "wide"]


# --- through Slack, on both engines ---------------------------------------------------------------


async def said(bot: Bot, text: str, user: str = USER) -> str:
    return private_text(await bot.command(text, user=user))


async def test_a_saved_preset_runs_under_what_was_typed_and_over_the_defaults(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command('defaults --style "soft light" --resolution 720p', user=ADMIN)
    await bot.command("defaults me --model veo-3 --aspect 1:1")
    saved = await said(bot, 'preset save teaser --model pika --duration 3 --ar 9x16 --style "neon noir"')
    assert "Your preset *teaser* is saved" in saved and "--aspect 9:16" in saved

    response = await bot.command("A rainy street --preset teaser --duration 2")
    assert response.status == 200 and response.body == ""
    await bot.run_jobs()
    assert bot.perf.creates == [
        {
            "prompt": "A rainy street, neon noir",
            "model": "pika",
            "duration_seconds": 2,
            "resolution": "720p",
            "aspect_ratio": "9:16",
        }
    ]


async def test_an_unknown_preset_is_answered_with_the_ones_that_exist_and_starts_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    nothing = await said(bot, "A rainy street --preset teaser")
    assert "There is no preset `teaser`" in nothing and "There are none here yet" in nothing
    await bot.command("preset save teaser --model pika")
    await bot.command("preset save wide --aspect 4:3")
    answer = await said(bot, "A rainy street --preset teasr")
    assert "There is no preset `teasr`. The ones you can use here: `teaser`, `wide`." in answer
    assert "Nothing was started" in answer
    assert await bot.services.store.jobs() == [] and bot.perf.creates == []
    # Bob sees none of Alice's.
    assert "There are none here yet" in await said(bot, "A rainy street --preset teaser", user=BOB)


async def test_channel_presets_are_for_admins_and_a_persons_own_shadows_them(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    refused = await said(bot, "preset save teaser --channel --model veo-3", user=BOB)
    assert "Only workspace admins and owners can save or delete a channel's presets" in refused
    assert "There are no presets" in await said(bot, "preset list", user=BOB)
    assert "This channel's preset *teaser* is saved" in await said(
        bot, "preset save teaser --channel --model veo-3", user=ADMIN
    )
    assert "Only workspace admins" in await said(bot, "preset delete teaser --channel", user=BOB)

    # Bob uses the channel's; Alice saves her own of the same name, which hides the channel's for her.
    await bot.command("A rainy street --preset teaser", user=BOB)
    assert "It hides this channel's preset of the same name" in await said(bot, "preset save teaser --model pika")
    listed = await said(bot, "preset list")
    assert "• *teaser* (yours): `--model pika`" in listed
    assert "• *teaser* (this channel's): `--model veo-3` · _hidden by yours of the same name" in listed
    await bot.command("A foggy pier --preset teaser")
    await bot.run_jobs()
    assert sorted(create["model"] for create in bot.perf.creates) == ["pika", "veo-3"]

    assert "Deleted this channel's preset *teaser*" in await said(bot, "preset delete teaser --channel", user=ADMIN)
    assert "There is no preset *teaser* of this channel" in await said(
        bot, "preset delete teaser --channel", user=ADMIN
    )
    assert "Deleted your preset *teaser*" in await said(bot, "preset delete teaser")
    assert "There are no presets" in await said(bot, "preset list")


async def test_presets_are_checked_when_saved_and_when_used(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert "There is no model `veo3`. Did you mean `veo-3`?" in await said(bot, "preset save teaser --model veo3")
    assert "pika makes videos of up to" in await said(bot, "preset save teaser --model pika --duration 60")
    assert "I can't use `teaser!` as a preset's name" in await said(bot, "preset save Teaser! --model pika")
    assert "at most 32 characters" in await said(bot, f"preset save {'a' * 33} --model pika")
    assert "A preset needs at least one setting" in await said(bot, "preset save teaser")
    assert "There are no presets" in await said(bot, "preset list")

    # The catalogue changed since it was saved: its model is named privately and skipped; the job still runs.
    await bot.services.store.save_preset(
        "T0001", USER, presets.Preset("old", presets.PERSON, {"model": "sora-1"}, USER, 1.0)
    )
    note = await said(bot, "A rainy street --preset old")
    assert "The preset's setting `--model sora-1` was skipped: There is no model `sora-1`" in note
    await bot.run_jobs()
    [create] = bot.perf.creates
    assert create["model"] == "runway-gen3"


async def test_help_tells_of_presets(make_bot: MakeBot) -> None:
    bot = await make_bot()
    text = await said(bot, "help")
    assert "`/video A rainy street --preset teaser`" in text and "`/video preset list`" in text


# --- the form's menu ------------------------------------------------------------------------------


def _interaction(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


async def test_the_forms_menu_fills_in_a_preset_and_what_is_changed_after_still_wins(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command('preset save teaser --model pika --duration 3 --aspect 9:16 --style "neon noir"')
    await bot.command("")
    [(view_id, view)] = bot.slack.views.items()
    [menu] = [b for b in view["blocks"] if b.get("block_id") == "preset"]
    assert [o["value"] for o in menu["elements"][0]["options"]] == ["teaser"]

    picked = {**view, "id": view_id, "hash": bot.slack.view_hashes[view_id]}
    picked["state"] = form_state(view, prompt="A rainy street")
    chosen = {"value": "teaser", "text": {"type": "plain_text", "text": "teaser"}}
    action = {"type": "static_select", "action_id": "form_preset", "block_id": "preset", "selected_option": chosen}
    await bot.interaction(
        _interaction(
            {
                "type": "block_actions",
                "team": {"id": "T0001"},
                "user": {"id": USER},
                "view": picked,
                "actions": [action],
            }
        )
    )
    updated = bot.slack.views[view_id]
    fields = {b["block_id"]: b["element"] for b in updated["blocks"] if b["type"] == "input"}
    # Renamed, so that Slack shows the preset's values rather than keeping what the fields showed.
    assert fields["model~1"]["initial_option"]["value"] == "pika"
    assert fields["aspect~1"]["initial_option"]["value"] == "9:16"
    assert (fields["duration~1"]["initial_value"], fields["style~1"]["initial_value"]) == ("3", "neon noir")
    assert fields["prompt"]["initial_value"] == "A rainy street"
    # The cost line follows the preset's model and duration (pika, 3 s: $0.20).
    cost = json.dumps(updated["blocks"])
    assert "Estimated cost: *$0.20* (pika, 3 s)" in cost, cost

    state = form_state(updated)
    submitted = {**updated, "id": view_id, "hash": bot.slack.view_hashes[view_id], "state": state}
    submit = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": USER}, "view": submitted}
    state["values"]["duration~1"]["form_duration"]["value"] = "60"
    refused = await bot.interaction(_interaction(submit))
    errors = json.loads(refused.body)["errors"]
    assert list(errors) == ["duration~1"] and "pika makes videos of up to" in errors["duration~1"]

    state["values"]["duration~1"]["form_duration"]["value"] = "2"
    await bot.interaction(_interaction(submit))
    await bot.run_jobs()
    assert bot.perf.creates == [
        {
            "prompt": "A rainy street, neon noir",
            "model": "pika",
            "duration_seconds": 2,
            "resolution": "1080p",
            "aspect_ratio": "9:16",
        }
    ]


async def test_without_presets_the_form_has_no_menu(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("")
    [view] = bot.slack.views.values()
    assert [b for b in view["blocks"] if b.get("block_id") == "preset"] == []


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("preset save --model pika", "Which preset? Name it after `save`: `/video preset save teaser --model pika`."),
        ("preset delete", "Which preset? Name it after `delete`: `/video preset delete teaser`"),
        ("preset delete Not!ok", "I can't use `not!ok` as a preset's name"),
    ],
)
async def test_a_preset_command_without_a_usable_name_says_how_to_name_one(
    make_bot: MakeBot, text: str, answer: str
) -> None:
    bot = await make_bot()
    assert answer in await said(bot, text)
