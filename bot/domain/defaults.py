"""Defaults that stick: which value of each setting applies, and where it comes from. Pure.

The one rule, everywhere a new request is made (the typed command, the form as it opens, a draft): an
option given now > the preset asked for (`--preset`, or the form's menu) > the person's own defaults > the
channel's > Perf's. A rerun (and a remix) starts from
the settings its job ran with, so it never comes here.

Defaults are stored as the options they were set with (`{"model": "veo-3", "style": "35 mm film"}`) and
checked again, like typed options, each time they apply: one the catalogue no longer allows (a retired
model, a duration the chosen model can't make) is named and skipped, never silently used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.domain.request import CommandError, VideoRequest, validate_options

# The settings a default may give, in the order they are resolved: the duration is checked against the
# model already chosen, the style against the prompt's length.
SETTINGS: tuple[str, ...] = ("model", "duration", "aspect", "resolution", "style")
# What a default is checked with when there is no prompt yet (`/video defaults`, a form just opened).
PLACEHOLDER_PROMPT = "-"


class Source(StrEnum):
    """Where a setting's value came from, from the strongest to the weakest."""

    TYPED = "typed"  # given now: typed, or chosen on the form
    PRESET = "preset"  # the preset asked for (`--preset`), a person's or the channel's
    YOURS = "yours"  # the person's own defaults
    CHANNEL = "channel"  # the channel's defaults
    PERF = "perf"  # nobody set it: Perf's own default (the catalogue's)


@dataclass(frozen=True)
class Defaults:
    """One scope's defaults (a channel's, or a person's), as the options they were set with."""

    options: Mapping[str, str] = field(default_factory=dict)
    set_by: str = ""
    set_at: float = 0.0

    def merged(self, changes: Mapping[str, str]) -> dict[str, str]:
        """These options with `changes` over them: setting one default keeps the others."""
        return {**self.options, **changes}


@dataclass(frozen=True)
class Skipped:
    """A default that could not apply, and why (the same reason a typed option would get)."""

    source: Source
    option: str
    value: str
    error: CommandError


@dataclass(frozen=True)
class Effective:
    """A request with the defaults applied, where each setting came from, and what was skipped."""

    request: VideoRequest
    sources: dict[str, Source]
    skipped: tuple[Skipped, ...] = ()


def typed_options(request: VideoRequest) -> dict[str, str]:
    """The settings of `request` that were given now, as options."""
    values = {
        "model": request.model,
        "duration": str(request.duration_seconds),
        "aspect": request.aspect_ratio,
        "resolution": request.resolution,
        "style": request.style,
    }
    return {name: value for name, value in values.items() if name in request.typed and value}


def apply(
    request: VideoRequest, yours: Defaults | None, channel: Defaults | None, preset: Defaults | None = None
) -> Effective | CommandError:
    """`request` (as parsed) with the preset and the defaults under what was typed; an error only for what
    was typed."""
    flags = {name: "yes" for name in ("private", "draft") if getattr(request, name)}
    return effective(request.prompt, typed_options(request), yours, channel, flags=flags, preset=preset)


def effective(
    prompt: str,
    typed: Mapping[str, str],
    yours: Defaults | None,
    channel: Defaults | None,
    *,
    flags: Mapping[str, str] | None = None,
    preset: Defaults | None = None,
) -> Effective | CommandError:
    """The settings that apply to `prompt`, setting by setting: typed, else the preset's, else the first
    default that is valid with the settings already chosen, else Perf's."""
    layers = [(Source.PRESET, preset), (Source.YOURS, yours), (Source.CHANNEL, channel)]
    chosen: dict[str, str] = {}
    sources: dict[str, Source] = {}
    skipped: list[Skipped] = []
    for name in SETTINGS:
        if name in typed:
            chosen[name], sources[name] = typed[name], Source.TYPED
            continue
        sources[name] = Source.PERF
        for source, defaults in layers:
            value = defaults.options.get(name) if defaults else None
            if not value:
                continue
            refused = validate_options(prompt, {**chosen, name: value})
            if isinstance(refused, CommandError):
                skipped.append(Skipped(source, name, value, refused))
                continue
            chosen[name], sources[name] = value, source
            break
    result = validate_options(prompt, {**chosen, **(flags or {})})
    if isinstance(result, CommandError):
        return result
    typed_now = frozenset(name for name, source in sources.items() if source is Source.TYPED)
    return Effective(replace(result, typed=typed_now | frozenset(flags or {})), sources, tuple(skipped))


def new_defaults(current: Defaults | None, changes: Mapping[str, str]) -> dict[str, str] | CommandError:
    """The options to store when `changes` are set over `current`, as the catalogue spells them (`--ar 9x16`
    is `9:16`), or why they can't be: the same checks, and answers, as typed options. What of `current` no
    longer applies (a retired model) is dropped rather than standing in the way of the change."""
    kept = _still_applying(current)
    merged = {**kept, **changes}
    request = validate_options(PLACEHOLDER_PROMPT, merged)
    if isinstance(request, CommandError):
        return request
    spelt = {
        "model": request.model,
        "duration": str(request.duration_seconds),
        "aspect": request.aspect_ratio,
        "resolution": request.resolution,
        "style": request.style,
    }
    return {name: spelt[name] for name in merged}


def _still_applying(current: Defaults | None) -> dict[str, str]:
    if current is None:
        return {}
    found = effective(PLACEHOLDER_PROMPT, {}, current, None)
    if isinstance(found, CommandError):  # pragma: no cover - nothing was typed, so nothing can be wrong
        return {}
    return {name: current.options[name] for name, source in found.sources.items() if source is Source.YOURS}
