"""Parsing and validating `/video` text: every rule a person can hit, and a fuzz that nothing crashes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.job import new_job_id
from bot.domain.request import (
    MAX_PROMPT_CHARS,
    CancelRequest,
    CommandError,
    FormRequest,
    HelpRequest,
    ParseResult,
    VideoRequest,
    parse_video_command,
)
from bot.messages import command_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A lighthouse", VideoRequest("A lighthouse")),
        (
            "A lighthouse in a storm --model veo-3 --duration 8 --aspect 9:16",
            VideoRequest("A lighthouse in a storm", "veo-3", Decimal(8), "1080p", "9:16"),
        ),
        (
            "A lighthouse --ar 1:1 --duration 8s --resolution 720p --model VEO-3",
            VideoRequest("A lighthouse", "veo-3", Decimal(8), "720p", "1:1"),
        ),
        ("A lighthouse --model=pika --duration=2.5", VideoRequest("A lighthouse", "pika", Decimal("2.5"))),
        ("A lighthouse —model luma-dream-machine", VideoRequest("A lighthouse", "luma-dream-machine")),
        ("A lighthouse --duration 8 s", VideoRequest("A lighthouse", duration_seconds=Decimal(8))),
        ("A lighthouse --resolution 720", VideoRequest("A lighthouse", resolution="720p")),
        ("A storm—waves crashing", VideoRequest("A storm—waves crashing")),
        ("  lots   of\nspace  ", VideoRequest("lots   of\nspace")),
    ],
)
def test_valid_commands_become_requests(text: str, expected: VideoRequest) -> None:
    assert parse_video_command(text) == expected


@pytest.mark.parametrize("text", ["help", "HELP", "--help", "?"])
def test_help(text: str) -> None:
    assert parse_video_command(text) == HelpRequest()


@pytest.mark.parametrize("text", ["", "   ", None])
def test_a_bare_command_opens_the_form(text: str | None) -> None:
    assert parse_video_command(text) == FormRequest()


@pytest.mark.parametrize(
    ("text", "code", "given"),
    [
        ("--model veo-3", "empty_prompt", ""),
        ("A cat --model veo-4", "unknown_model", "veo-4"),
        ("A cat --model veo-3 --duration 61", "duration_too_long", "61"),
        ("A cat --duration 0", "bad_duration", "0"),
        ("A cat --duration -3", "bad_duration", "-3"),
        ("A cat --duration eight", "bad_duration", "eight"),
        ("A cat --duration nan", "bad_duration", "nan"),
        ("A cat --duration 1e3", "bad_duration", "1e3"),
        ("A cat --aspect 2:1", "unknown_aspect", "2:1"),
        ("A cat --resolution 4k", "unknown_resolution", "4k"),
        ("A cat --colour red", "unknown_option", "--colour"),
        ("A cat --model", "missing_value", "model"),
        ("A cat --model veo-3 --model pika", "repeated_option", "model"),
        ("A cat --model veo-3 and a dog", "stray_text", "and"),
        ("x" * (MAX_PROMPT_CHARS + 1), "prompt_too_long", str(MAX_PROMPT_CHARS + 1)),
    ],
)
def test_mistakes_name_what_was_wrong(text: str, code: str, given: str) -> None:
    result = parse_video_command(text)
    assert isinstance(result, CommandError)
    assert (result.code, result.given) == (code, given)


def test_each_mistake_says_what_to_type_instead() -> None:
    def message(text: str) -> str:
        result = parse_video_command(text)
        assert isinstance(result, CommandError)
        return str(command_error(result)["text"])

    assert message("A glacier --model veo-3 --duration 61") == (
        "veo-3 makes videos of up to 60 s, and you asked for 61. Try `--duration 60`."
    )
    # The cheapest model that can make the length asked for.
    assert "Try `--duration 4`, or `--model luma-dream-machine` (up to 10 s)" in message(
        "A cat --model pika --duration 5"
    )
    assert "Did you mean `--duration`?" in message("A cat --durration 5")
    assert all(f"`{m}`" in message("A cat --model sora") for m in ("veo-3", "runway-gen3", "pika"))
    assert "`9:16` vertical (TikTok, Reels)" in message("A cat --ar 3:2")
    assert "the limit is 2,000" in message("y" * 2500)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_gives_a_request_or_a_clear_error(text: str) -> None:
    result = parse_video_command(text)
    assert isinstance(result, ParseResult)
    if isinstance(result, CommandError):
        assert command_error(result)["text"]
    if isinstance(result, VideoRequest):
        assert 0 < len(result.prompt) <= MAX_PROMPT_CHARS
        assert result.prompt in text


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc")), min_size=1, max_size=40).filter(
        lambda s: not s.startswith(("-", "—", "–")) and s.lower() not in ("help", "?", "defaults")
    ),
    st.sampled_from(["veo-3", "runway-gen3", "pika"]),
    st.sampled_from(["16:9", "9:16", "1:1", "4:3"]),
)
def test_options_after_any_prompt_are_read(prompt: str, model: str, aspect: str) -> None:
    result = parse_video_command(f"{prompt} --model {model} --ar {aspect} --duration 4")
    assert result == VideoRequest(prompt, model, Decimal(4), "1080p", aspect)


def test_control_characters_rtl_marks_and_emoji_survive_intact() -> None:
    prompt = "A 🐈\u200f cat \u202eدر\u0007 dancing 🎉"
    result = parse_video_command(prompt + " --model pika")
    assert isinstance(result, VideoRequest) and result.prompt == prompt


def test_every_job_id_the_bot_makes_is_one_that_cancel_accepts_and_none_repeats() -> None:
    # 5,000 jobs over two days and a half: the hours' prefixes differ, the random rest never repeats.
    ids = [new_job_id(1_800_000_000.0 + 43.0 * n) for n in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(parse_video_command(f"cancel {job_id}") == CancelRequest(job_id) for job_id in ids)
    # Every character of the alphabet turns up in every random position: none of them is stuck.
    assert all(len({job_id[3 + position] for job_id in ids}) == 31 for position in range(3, 10))


def test_the_jobs_of_one_hour_have_ids_that_sort_together_and_the_next_hour_moves_on() -> None:
    hour = 1_800_000_000.0 - 1_800_000_000.0 % 3600
    this_hour = [new_job_id(hour + second) for second in range(0, 3600, 36)]
    next_hour = new_job_id(hour + 3600)
    assert len({job_id[:6] for job_id in this_hour}) == 1
    assert next_hour[:6] != this_hour[0][:6]
    # Neighbours in every index keyed by id: nothing from another hour sorts between them.
    assert not min(this_hour) < next_hour < max(this_hour)
