"""Presets (issue 28): named recipes of model, duration, aspect, resolution and style. Pure.

A person's own presets and each channel's (set by admins). Used as `--preset teaser`, a preset lies between
what was typed and the defaults (typed > preset > the person's defaults > the channel's > Perf's; the rule
is bot.domain.defaults). A person's preset shadows the channel's of the same name. A preset is stored as
the options it was saved with and checked against the catalogue when saved and each time it is used, as a
default is: a value the catalogue no longer allows is named and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

PERSON = "person"
CHANNEL = "channel"
MAX_NAME_CHARS = 32
# Lower-case letters, digits, `-` and `_`, starting with a letter or a digit: a name typed after `--preset`.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# How many presets one person, or one channel, may keep: a select menu holds 100 options in all.
MAX_PRESETS_PER_OWNER = 40


@dataclass(frozen=True)
class Preset:
    name: str
    scope: str  # PERSON or CHANNEL
    options: Mapping[str, str] = field(default_factory=dict)
    set_by: str = ""
    set_at: float = 0.0


class NameProblem(StrEnum):
    """Why a name can't name a preset (bot.messages says it in words)."""

    EMPTY = "empty"
    TOO_LONG = "too_long"  # over MAX_NAME_CHARS
    CHARACTERS = "characters"  # not lower-case letters, digits, `-` and `_`, starting with a letter or digit


def name_problem(name: str) -> NameProblem | None:
    """Why `name` can't name a preset (None when it can)."""
    if not name:
        return NameProblem.EMPTY
    if len(name) > MAX_NAME_CHARS:
        return NameProblem.TOO_LONG
    if not _NAME.match(name):
        return NameProblem.CHARACTERS
    return None


def normalized(name: str) -> str:
    return name.strip().lower()


def shadowed(presets: Sequence[Preset]) -> frozenset[str]:
    """The names that are both the person's and the channel's: `--preset` finds the person's."""
    mine = {p.name for p in presets if p.scope == PERSON}
    return frozenset(p.name for p in presets if p.scope == CHANNEL and p.name in mine)


def find(presets: Sequence[Preset], name: str) -> Preset | None:
    """The preset `--preset name` means: the person's own, else the channel's."""
    wanted = normalized(name)
    found = {p.scope: p for p in presets if p.name == wanted}
    return found.get(PERSON) or found.get(CHANNEL)


def names(presets: Sequence[Preset]) -> list[str]:
    """The names a person may use, each once, sorted."""
    return sorted({p.name for p in presets})
