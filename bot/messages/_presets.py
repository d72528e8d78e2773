"""Presets: `/video preset list | save | delete` and their answers (issue 28)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.presets import CHANNEL, Preset
from bot.messages._text import MAX_TEXT, Message, clip, listed_in, private_answer

_HOW = (
    'Save one with `/video preset save teaser --model pika --duration 3 --aspect 9:16 --style "neon noir"` '
    "(add `--channel` to make it this channel's: admins only), use it with `/video A rainy street --preset "
    "teaser` (what you type still wins), remove it with `/video preset delete teaser`."
)


def _recipe(preset: Preset) -> str:
    shown = []
    for name in ("model", "duration", "aspect", "resolution", "style"):
        value = preset.options.get(name)
        if value:
            shown.append(f"--{name} “{clip(value, 200)}”" if name == "style" else f"--{name} {clip(value, 40)}")
    return "`" + " ".join(shown) + "`" if shown else "(no settings)"


def preset_list(presets: Sequence[Preset], shadowed: frozenset[str]) -> Message:
    """Privately: the person's presets and the channel's, with what each sets."""
    if not presets:
        return private_answer(f"There are no presets for you here yet. {_HOW}")
    rows = []
    for preset in presets:
        whose = "this channel's" if preset.scope == CHANNEL else "yours"
        note = ""
        if preset.scope == CHANNEL and preset.name in shadowed:
            note = " · _hidden by yours of the same name: `--preset` uses yours_"
        rows.append(f"• *{clip(preset.name, 40)}* ({whose}): {_recipe(preset)}{note}")
    head = "*Presets you can use here*"
    body = listed_in(rows, MAX_TEXT - len(head) - len(_HOW) - 4, "\n", lambda n: f"…and {n} more")
    return private_answer(f"{head}\n{body}\n\n{_HOW}")


def preset_saved(preset: Preset, *, replaced: bool, shadows_channel: bool) -> Message:
    whose = "This channel's preset" if preset.scope == CHANNEL else "Your preset"
    verb = "updated" if replaced else "saved"
    note = " It hides this channel's preset of the same name for you." if shadows_channel else ""
    return private_answer(
        f"✅ {whose} *{clip(preset.name, 40)}* is {verb}: {_recipe(preset)}. "
        f"Use it with `/video <prompt> --preset {clip(preset.name, 40)}`.{note}"
    )


def preset_deleted(name: str, *, channel: bool, existed: bool) -> Message:
    whose = "this channel's" if channel else "your"
    if not existed:
        return private_answer(
            f"There is no preset *{clip(name, 40)}* of {'this channel' if channel else 'yours'} to delete. "
            "`/video preset list` shows them."
        )
    return private_answer(f"✅ Deleted {whose} preset *{clip(name, 40)}*.")


def preset_name_refused(name: str, reason: str, *, action: str = "save") -> Message:
    """`action`: the command that was typed (`save` or `delete`), whose example the answer gives."""
    example = (
        "`/video preset delete teaser` (`/video preset list` shows the names)"
        if action == "delete"
        else "`/video preset save teaser --model pika`"
    )
    if not name:
        return private_answer(f"Which preset? Name it after `{action}`: {example}.")
    return private_answer(f"I can't use `{clip(name, 40)}` as a preset's name: {reason}. E.g. {example}.")


def preset_empty() -> Message:
    return private_answer(
        "A preset needs at least one setting: `--model`, `--duration`, `--aspect`, `--resolution` or `--style`. " + _HOW
    )


def preset_too_many(limit: int) -> Message:
    return private_answer(f"There are already {limit} presets here; delete one first (`/video preset delete <name>`).")


def presets_admins_only() -> Message:
    return private_answer(
        "Only workspace admins and owners can save or delete a channel's presets. Save your own instead: "
        "`/video preset save teaser --model pika`."
    )
