"""`/video defaults`: the settings that apply to a person in a channel and where each comes from, the
answers to setting and clearing them, and the note when a default could not apply."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.defaults import Effective, Skipped, Source
from bot.messages._i18n import N_, _, language_name, shipped
from bot.messages._phrases import skipped_lines
from bot.messages._text import Message, clip, private_answer, seconds_text

_FROM = {
    Source.TYPED: N_("typed now"),
    Source.PRESET: N_("the preset"),
    Source.YOURS: N_("your default"),
    Source.CHANNEL: N_("this channel's default"),
    Source.PERF: N_("Perf's default"),
}
# Each setting's line: its name as the reader's language says it, its value, and where the value comes from.
_LINES = {
    "model": N_("• model: {value} ({source})"),
    "duration": N_("• duration: {value} ({source})"),
    "aspect": N_("• aspect: {value} ({source})"),
    "resolution": N_("• resolution: {value} ({source})"),
    "style": N_("• style: {value} ({source})"),
}
_HOW = N_(
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
        "style": f"“{clip(request.style, 500)}”" if request.style else _("none"),
    }
    return [_(_LINES[name], value=value, source=_(_FROM[effective.sources[name]])) for name, value in shown.items()]


def _language_line(language: tuple[str, bool] | None) -> list[str]:
    """`language`: the channel's language, and whether the channel set it (else it is the workspace's)."""
    if language is None:
        return []
    tag, own = language
    source = _("this channel's default") if own else _("the workspace's language")
    return [_("• language: {value} ({source})", value=language_name(tag), source=source)]


def defaults_status(effective: Effective, language: tuple[str, bool] | None = None) -> Message:
    """`language`: the channel's (`/video defaults --language`), and whether the channel set it."""
    head = _("*Settings for your videos in this channel* (a new video starts from these):")
    lines = [head, *_value_lines(effective), *_language_line(language), *skipped_lines(effective.skipped)]
    return private_answer("\n".join([*lines, "", _(_HOW)]))


def defaults_skipped(skipped: Sequence[Skipped]) -> Message:
    """Said privately beside a job that started without some of the defaults."""
    return private_answer("\n".join([*skipped_lines(skipped), _("The video was started without them.")]))


def defaults_changed(effective: Effective, *, mine: bool, language: tuple[str, bool] | None = None) -> Message:
    head = (
        _("✅ Your defaults are set. What a new video here starts from now:")
        if mine
        else _("✅ This channel's defaults are set. What a new video here starts from now:")
    )
    lines = [head, *_value_lines(effective), *_language_line(language)]
    return private_answer("\n".join([*lines, *skipped_lines(effective.skipped)]))


def defaults_cleared(*, mine: bool, had_any: bool) -> Message:
    if not had_any:
        if mine:
            return private_answer(
                _("You have no defaults of your own to remove. `/video defaults` shows what applies.")
            )
        return private_answer(_("This channel has no defaults to remove. `/video defaults` shows what applies."))
    if mine:
        return private_answer(_("✅ Removed your own defaults. `/video defaults` shows what applies now."))
    return private_answer(_("✅ Removed this channel's defaults. `/video defaults` shows what applies now."))


def defaults_admins_only() -> Message:
    return private_answer(
        _(
            "Only workspace admins and owners can set a channel's defaults. Set your own instead: "
            "`/video defaults me --model pika`."
        )
    )


def language_unknown(given: str) -> Message:
    """`/video defaults --language xx` with a language videobot has no catalogue for."""
    spoken = ", ".join(f"`{tag}` {language_name(tag)}" for tag in shipped())
    return private_answer(
        _("videobot doesn't speak `{given}`. It speaks: {languages}.", given=clip(given, 40), languages=spoken)
    )


def language_is_personal() -> Message:
    """`/video defaults me --language …`: a person's language is the one their Slack is set to."""
    return private_answer(
        _(
            "You read videobot in the language your Slack is set to (Preferences → Language & region). "
            "`/video defaults --language de` sets a channel's (admins)."
        )
    )
