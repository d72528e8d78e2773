"""Defaults that stick: `/video defaults`, the precedence typed > yours > the channel's > Perf's, `--style`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.domain.defaults import Defaults, Effective, Source, apply, effective
from bot.domain.request import (
    MAX_PROMPT_CHARS,
    CommandError,
    DefaultsRequest,
    ErrorCode,
    VideoRequest,
    parse_video_command,
    with_style,
    without_style,
)
from tests.conftest import CHANNEL, USER, Bot, MakeBot, private_text, reaction_event_body
from tests.test_form import state, submission
from tests.test_shortcuts import global_shortcut, message_shortcut
from tests.test_workflow_step import step_executed

ADMIN = "UADMIN01"
BOB = "UBOB0002"
STYLE = "35 mm film, soft light"


def parsed(text: str) -> VideoRequest:
    request = parse_video_command(text)
    assert isinstance(request, VideoRequest), request
    return request


def applied(text: str, yours: dict[str, str] | None = None, channel: dict[str, str] | None = None) -> Effective:
    found = apply(parsed(text), Defaults(yours) if yours else None, Defaults(channel) if channel else None)
    assert isinstance(found, Effective), found
    return found


# --- the rule, pure -------------------------------------------------------------------------------


def test_each_setting_comes_from_what_was_typed_then_yours_then_the_channels_then_perfs() -> None:
    found = applied(
        "A lighthouse --duration 6",
        yours={"model": "veo-3", "aspect": "9:16"},
        channel={"model": "pika", "aspect": "1:1", "duration": "3", "style": STYLE},
    )
    request = found.request
    assert (request.model, request.duration_seconds, request.aspect_ratio, request.resolution) == (
        "veo-3",
        Decimal(6),
        "9:16",
        "1080p",
    )
    assert request.style == STYLE and request.prompt_sent == f"A lighthouse, {STYLE}"
    assert found.sources == {
        "model": Source.YOURS,
        "duration": Source.TYPED,
        "aspect": Source.YOURS,
        "resolution": Source.PERF,
        "style": Source.CHANNEL,
    }
    assert found.skipped == ()


def test_an_option_typed_now_beats_every_default() -> None:
    found = applied(
        "A lighthouse --model luma-dream-machine --ar 4:3 --res 720 --style noir",
        yours={"model": "veo-3", "aspect": "9:16", "resolution": "1080p", "style": STYLE},
    )
    request = found.request
    assert (request.model, request.aspect_ratio, request.resolution, request.style) == (
        "luma-dream-machine",
        "4:3",
        "720p",
        "noir",
    )
    assert set(found.sources.values()) == {Source.TYPED, Source.PERF}  # the duration: nobody set it


def test_without_any_defaults_a_request_is_what_it_always_was() -> None:
    for text in ("A lighthouse", "A lighthouse --model veo-3 --duration 8 --ar 9:16 --private"):
        assert applied(text).request == parsed(text)
        assert applied(text).request.prompt_sent == parsed(text).prompt


def test_a_default_the_catalogue_no_longer_allows_is_named_skipped_and_the_next_one_applies() -> None:
    found = applied("A lighthouse", yours={"model": "sora-1"}, channel={"model": "pika", "duration": "8"})
    assert found.request.model == "pika"  # yours is retired: the channel's applies
    assert found.request.duration_seconds == Decimal(4)  # the channel's 8 s is too long for pika: Perf's
    assert [(s.source, s.option, s.value, s.error.code) for s in found.skipped] == [
        (Source.YOURS, "model", "sora-1", ErrorCode.UNKNOWN_MODEL),
        (Source.CHANNEL, "duration", "8", ErrorCode.DURATION_TOO_LONG),
    ]


def test_what_was_typed_is_still_checked_against_the_model_a_default_chose() -> None:
    refused = apply(parsed("A lighthouse --duration 8"), None, Defaults({"model": "pika"}))
    assert isinstance(refused, CommandError) and (refused.code, refused.model) == (ErrorCode.DURATION_TOO_LONG, "pika")


def test_a_default_style_that_would_make_the_prompt_too_long_is_skipped() -> None:
    prompt = "x" * (MAX_PROMPT_CHARS - 5)
    found = applied(prompt, channel={"style": STYLE})
    assert found.request.prompt_sent == prompt and found.skipped[0].error.code == ErrorCode.PROMPT_TOO_LONG
    typed = parse_video_command(f"{prompt} --style {'y' * 10}")
    assert isinstance(typed, CommandError) and typed.code == ErrorCode.PROMPT_TOO_LONG


def test_the_settings_with_no_prompt_yet_are_what_the_form_opens_with() -> None:
    found = effective("-", {}, Defaults({"aspect": "9:16"}), Defaults({"model": "veo-3", "duration": "10"}))
    assert isinstance(found, Effective)
    assert (found.request.model, found.request.duration_seconds, found.request.aspect_ratio) == (
        "veo-3",
        Decimal(10),
        "9:16",
    )


@pytest.mark.parametrize(
    ("prompt", "style", "sent"),
    [
        ("A lighthouse", STYLE, f"A lighthouse, {STYLE}"),
        ("A lighthouse in a storm.", "grainy", "A lighthouse in a storm. grainy"),
        ("A lighthouse", "", "A lighthouse"),
    ],
)
def test_a_style_is_a_suffix_of_the_prompt_sent_and_can_be_told_apart_again(prompt: str, style: str, sent: str) -> None:
    assert with_style(prompt, style) == sent
    assert without_style(sent, style) == prompt
    # A prompt that no longer ends with the style (edited in a remix, say) is shown whole.
    assert without_style("Something else", STYLE) == "Something else"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaults", DefaultsRequest()),
        ("defaults me", DefaultsRequest(mine=True)),
        ("defaults clear", DefaultsRequest(clear=True)),
        ("Defaults me clear", DefaultsRequest(mine=True, clear=True)),
        (
            f'defaults --model veo-3 --aspect 9:16 --style "{STYLE}"',
            DefaultsRequest(options={"model": "veo-3", "aspect": "9:16", "style": STYLE}),
        ),
        (
            f"defaults me —model pika --style “{STYLE}”",
            DefaultsRequest(True, options={"model": "pika", "style": STYLE}),
        ),
    ],
)
def test_the_defaults_subcommand_parses(text: str, expected: DefaultsRequest) -> None:
    assert parse_video_command(text) == expected


def test_a_prompt_that_starts_with_defaults_is_still_a_prompt_and_one_off_options_are_not_defaults() -> None:
    assert parsed("defaults are boring").prompt == "defaults are boring"
    refused = parse_video_command("defaults me --private")
    assert isinstance(refused, CommandError) and (refused.code, refused.given) == (ErrorCode.NOT_A_DEFAULT, "private")


def test_a_typed_style_takes_a_quoted_value_and_the_rest_of_the_command_is_unchanged() -> None:
    request = parsed(f'A lighthouse --style "{STYLE}" --model pika')
    assert (request.style, request.model, request.typed) == (STYLE, "pika", frozenset({"style", "model"}))
    assert parsed("A lighthouse --style=noir").style == "noir"
    assert parsed("A lighthouse --model veo-3") == VideoRequest("A lighthouse", "veo-3")


# --- through Slack ------------------------------------------------------------------------------


async def defaults_text(bot: Bot, text: str = "defaults", user: str = USER) -> str:
    return private_text(await bot.command(text, user=user))


async def test_admins_set_the_channels_defaults_people_their_own_and_defaults_shows_where_each_comes_from(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    shown = await defaults_text(bot)
    assert "• model: `runway-gen3` (Perf's default)" in shown and "• style: none (Perf's default)" in shown

    refused = await defaults_text(bot, "defaults --model veo-3")
    assert "Only workspace admins and owners can set a channel's defaults" in refused
    changed = await defaults_text(bot, f'defaults --model veo-3 --ar 9x16 --style "{STYLE}"', user=ADMIN)
    assert "This channel's defaults are set" in changed and "• aspect: `9:16` (this channel's default)" in changed
    assert "Your defaults are set" in await defaults_text(bot, "defaults me --model pika")

    shown = await defaults_text(bot)
    assert "• model: `pika` (your default)" in shown
    assert "• aspect: `9:16` (this channel's default)" in shown
    assert f"• style: “{STYLE}” (this channel's default)" in shown
    assert "• duration: 4 s (Perf's default)" in shown
    # Bob has no defaults of his own: the channel's apply to him.
    assert "• model: `veo-3` (this channel's default)" in await defaults_text(bot, user=BOB)


async def test_a_command_runs_with_the_defaults_and_the_root_shows_the_style_as_part_of_the_prompt_sent(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command(f'defaults --model veo-3 --aspect 9:16 --style "{STYLE}"', user=ADMIN)
    await bot.command("defaults me --duration 6")

    response = await bot.command("A lighthouse in a storm --aspect 1:1")
    assert response.status == 200 and response.body == ""  # nothing skipped: nothing to say
    await bot.run_jobs()

    assert bot.perf.creates == [
        {
            "prompt": f"A lighthouse in a storm, {STYLE}",
            "model": "veo-3",
            "duration_seconds": 6,
            "resolution": "1080p",
            "aspect_ratio": "1:1",
        }
    ]
    [root] = bot.slack.roots(CHANNEL)
    assert f"“A lighthouse in a storm” + style: {STYLE}" in root.all_text()
    assert "veo-3 · 6 s · 1080p · 1:1 · est. $2.10" in root.all_text()


async def test_a_rerun_keeps_the_settings_its_job_ran_with_whatever_the_defaults_are_now(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command(f'defaults me --model pika --style "{STYLE}"')
    await bot.command("A lighthouse")
    await bot.run_jobs()
    await bot.command("defaults me --model veo-3 --style noir")
    [root] = bot.slack.roots(CHANNEL)

    await bot.event(reaction_event_body(root.ts, user=BOB))
    await bot.run_jobs()

    first, rerun = bot.perf.creates
    assert rerun == first and (rerun["model"], rerun["prompt"]) == ("pika", f"A lighthouse, {STYLE}")
    new_root = bot.slack.roots(CHANNEL)[1]
    assert f"“A lighthouse” + style: {STYLE}" in new_root.all_text()


async def test_a_retired_default_is_named_privately_and_skipped_and_the_job_still_starts(make_bot: MakeBot) -> None:
    bot = await make_bot()
    # The catalogue changed since the default was set: its model is gone.
    await bot.services.store.set_defaults(
        "T0001", "person", USER, Defaults({"model": "sora-1", "aspect": "9:16"}, USER, 1.0)
    )

    note = private_text(await bot.command("A lighthouse"))
    assert "Your default `--model sora-1` was skipped: There is no model `sora-1`" in note
    assert "The video was started without them." in note
    await bot.run_jobs()
    [create] = bot.perf.creates
    assert (create["model"], create["aspect_ratio"]) == ("runway-gen3", "9:16")
    assert "Your default `--model sora-1` was skipped" in await defaults_text(bot)


async def test_defaults_are_checked_like_typed_options_and_a_wrong_one_changes_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert "There is no model `veo3`. Did you mean `veo-3`?" in await defaults_text(bot, "defaults me --model veo3")
    assert "runway-gen3 makes videos of up to 16 s" in await defaults_text(bot, "defaults me --duration 30")
    assert "`--private` is about one video" in await defaults_text(bot, "defaults me --private")
    await bot.command("defaults me --model veo-3")
    # A duration fits the model the defaults already have.
    assert "• duration: 30 s (your default)" in await defaults_text(bot, "defaults me --duration 30")
    assert "There is no aspect ratio `2:1`" in await defaults_text(bot, "defaults me --ar 2:1")
    assert "• aspect: `16:9` (Perf's default)" in await defaults_text(bot)


async def test_clear_removes_them(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("defaults --model veo-3", user=ADMIN)
    await bot.command("defaults me --model pika")
    assert "Removed your own defaults" in await defaults_text(bot, "defaults me clear")
    assert "• model: `veo-3` (this channel's default)" in await defaults_text(bot)
    assert "Only workspace admins" in await defaults_text(bot, "defaults clear")
    assert "Removed this channel's defaults" in await defaults_text(bot, "defaults clear", user=ADMIN)
    assert "This channel has no defaults to remove" in await defaults_text(bot, "defaults clear", user=ADMIN)
    assert "• model: `runway-gen3` (Perf's default)" in await defaults_text(bot)


def selected(view: dict[str, Any], block_id: str) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    element = block["element"]
    return str(element["initial_option"]["value"] if "initial_option" in element else element.get("initial_value", ""))


async def test_the_form_opens_with_the_effective_defaults_selected_from_every_way_in(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command(f'defaults --model veo-3 --duration 10 --style "{STYLE}"', user=ADMIN)
    await bot.command("defaults me --aspect 9:16")

    await bot.command("")  # the plain /video form
    await bot.interaction(message_shortcut())
    await bot.interaction(global_shortcut())  # no channel yet: yours alone
    plain, from_message, from_anywhere = bot.slack.views.values()
    for view in (plain, from_message):
        assert [selected(view, b) for b in ("model", "duration", "aspect", "resolution", "style")] == [
            "veo-3",
            "10",
            "9:16",
            "1080p",
            STYLE,
        ]
    assert [selected(from_anywhere, b) for b in ("model", "duration", "aspect", "style")] == [
        "runway-gen3",
        "4",
        "9:16",
        "",
    ]


async def test_the_forms_style_is_added_to_the_prompt_sent(make_bot: MakeBot) -> None:
    bot = await make_bot()
    view_state = state()
    view_state["values"]["style"] = {"style": {"type": "plain_text_input", "value": "noir, high contrast"}}
    assert (await bot.interaction(submission(view_state))).status == 200
    await bot.run_jobs()
    [create] = bot.perf.creates
    assert create["prompt"] == "A lighthouse, noir, high contrast"
    [root] = bot.slack.roots(CHANNEL)
    assert "“A lighthouse” + style: noir, high contrast" in root.all_text()


async def test_a_workflow_steps_empty_inputs_take_the_requesters_and_the_channels_defaults(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command(f'defaults --model veo-3 --style "{STYLE}"', user=ADMIN)
    await bot.command("defaults me --aspect 9:16")
    await bot.event(step_executed(bot, duration=6))
    await bot.run_jobs()
    [create] = bot.perf.creates
    assert create == {
        "prompt": f"A lighthouse in a storm, {STYLE}",
        "model": "veo-3",
        "duration_seconds": 6,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
    }
    assert bot.slack.ended_steps["Fx0001"][0] == "success"


async def test_setting_a_default_drops_a_stored_one_the_catalogue_no_longer_allows(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.services.store.set_defaults(
        "T0001", "person", USER, Defaults({"model": "sora-1", "aspect": "9:16"}, USER, 1.0)
    )
    changed = await defaults_text(bot, "defaults me --duration 8")
    assert "Your defaults are set" in changed and "skipped" not in changed
    yours, _ = await bot.services.store.defaults_for("T0001", CHANNEL, USER)
    assert yours is not None and dict(yours.options) == {"aspect": "9:16", "duration": "8"}
