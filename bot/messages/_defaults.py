"""`/video defaults`: the settings that apply to a person in a channel and where each comes from, the
answers to setting and clearing them, and the note when a default could not apply."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.defaults import Effective, Skipped, Source
from bot.messages._phrases import skipped_lines
from bot.messages._text import Message, clip, private_answer, seconds_text

_FROM = {
    Source.TYPED: "typed now",
    Source.PRESET: "the preset",
    Source.YOURS: "your default",
    Source.CHANNEL: "this channel's default",
    Source.PERF: "Perf's default",
}
_HOW = (
    'Set yours with `/video defaults me --model pika --aspect 9:16 --style "35 mm film"`, this channel\'s '
    "(admins) with `/video defaults --model veo-3`; `/video defaults me clear` and `/video defaults clear` "
    "remove them. An option you type wins over every default."
)


def _value_lines(effective: Effective) -> list[str]:
    request = effective.request
    shown = {
        "model": f"`{request.model}`",
        "duration": seconds_text(request.duration_seconds),
        "aspect": f"`{request.aspect_ratio}`",
        "resolution": f"`{request.resolution}`",
        "style": f"“{clip(request.style, 500)}”" if request.style else "none",
    }
    return [f"• {name}: {value} ({_FROM[effective.sources[name]]})" for name, value in shown.items()]


def defaults_status(effective: Effective) -> Message:
    lines = ["*Settings for your videos in this channel* (a new video starts from these):", *_value_lines(effective)]
    lines += skipped_lines(effective.skipped)
    return private_answer("\n".join([*lines, "", _HOW]))


def defaults_skipped(skipped: Sequence[Skipped]) -> Message:
    """Said privately beside a job that started without some of the defaults."""
    return private_answer("\n".join([*skipped_lines(skipped), "The video was started without them."]))


def defaults_changed(effective: Effective, *, mine: bool) -> Message:
    whose = "Your defaults are" if mine else "This channel's defaults are"
    lines = [f"✅ {whose} set. What a new video here starts from now:", *_value_lines(effective)]
    return private_answer("\n".join([*lines, *skipped_lines(effective.skipped)]))


def defaults_cleared(*, mine: bool, had_any: bool) -> Message:
    whose = "your own defaults" if mine else "this channel's defaults"
    if not had_any:
        nobody = "You have no defaults of your own" if mine else "This channel has no defaults"
        return private_answer(f"{nobody} to remove. `/video defaults` shows what applies.")
    return private_answer(f"✅ Removed {whose}. `/video defaults` shows what applies now.")


def defaults_admins_only() -> Message:
    return private_answer(
        "Only workspace admins and owners can set a channel's defaults. Set your own instead: "
        "`/video defaults me --model pika`."
    )
