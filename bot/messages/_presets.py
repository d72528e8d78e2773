"""Presets: `/video preset list | save | delete` and their answers (issue 28)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.presets import CHANNEL, MAX_NAME_CHARS, NameProblem, Preset
from bot.messages._i18n import N_, _, _n
from bot.messages._phrases import and_more
from bot.messages._text import MAX_TEXT, Message, clip, listed_in, private_answer

_HOW = N_(
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
    return "`" + " ".join(shown) + "`" if shown else _("(no settings)")


def preset_list(presets: Sequence[Preset], shadowed: frozenset[str]) -> Message:
    """Privately: the person's presets and the channel's, with what each sets."""
    if not presets:
        return private_answer(_("There are no presets for you here yet.") + " " + _(_HOW))
    rows = []
    for preset in presets:
        name, recipe = clip(preset.name, 40), _recipe(preset)
        if preset.scope != CHANNEL:
            row = _("• *{name}* (yours): {recipe}", name=name, recipe=recipe)
        else:
            row = _("• *{name}* (this channel's): {recipe}", name=name, recipe=recipe)
        if preset.scope == CHANNEL and preset.name in shadowed:
            row += _(" · _hidden by yours of the same name: `--preset` uses yours_")
        rows.append(row)
    head, how = _("*Presets you can use here*"), _(_HOW)
    body = listed_in(rows, MAX_TEXT - len(head) - len(how) - 4, "\n", and_more)
    return private_answer(f"{head}\n{body}\n\n{how}")


def preset_saved(preset: Preset, *, replaced: bool, shadows_channel: bool) -> Message:
    values = {"name": clip(preset.name, 40), "recipe": _recipe(preset)}
    match (preset.scope == CHANNEL, replaced):
        case (True, True):
            text = _("✅ This channel's preset *{name}* is updated: {recipe}.", **values)
        case (True, False):
            text = _("✅ This channel's preset *{name}* is saved: {recipe}.", **values)
        case (False, True):
            text = _("✅ Your preset *{name}* is updated: {recipe}.", **values)
        case _:
            text = _("✅ Your preset *{name}* is saved: {recipe}.", **values)
    text += " " + _("Use it with `/video <prompt> --preset {name}`.", **values)
    if shadows_channel:
        text += " " + _("It hides this channel's preset of the same name for you.")
    return private_answer(text)


def preset_deleted(name: str, *, channel: bool, existed: bool) -> Message:
    shown = clip(name, 40)
    if not existed:
        if channel:
            text = _(
                "There is no preset *{name}* of this channel to delete. `/video preset list` shows them.", name=shown
            )
        else:
            text = _("There is no preset *{name}* of yours to delete. `/video preset list` shows them.", name=shown)
        return private_answer(text)
    if channel:
        return private_answer(_("✅ Deleted this channel's preset *{name}*.", name=shown))
    return private_answer(_("✅ Deleted your preset *{name}*.", name=shown))


def _name_problem(problem: NameProblem) -> str:
    match problem:
        case NameProblem.EMPTY:
            return _("a preset needs a name")
        case NameProblem.TOO_LONG:
            return _n(
                "a preset's name is at most {count} character",
                "a preset's name is at most {count} characters",
                MAX_NAME_CHARS,
            )
        case _:
            return _("a preset's name is lower-case letters, digits, `-` and `_`, starting with a letter or digit")


def preset_name_refused(name: str, problem: NameProblem, *, action: str = "save") -> Message:
    """`action`: the command that was typed (`save` or `delete`), whose example the answer gives."""
    example = (
        _("`/video preset delete teaser` (`/video preset list` shows the names)")
        if action == "delete"
        else "`/video preset save teaser --model pika`"
    )
    if not name:
        return private_answer(_("Which preset? Name it after `{action}`: {example}.", action=action, example=example))
    return private_answer(
        _(
            "I can't use `{name}` as a preset's name: {reason}. E.g. {example}.",
            name=clip(name, 40),
            reason=_name_problem(problem),
            example=example,
        )
    )


def preset_empty() -> Message:
    return private_answer(
        _("A preset needs at least one setting: `--model`, `--duration`, `--aspect`, `--resolution` or `--style`.")
        + " "
        + _(_HOW)
    )


def preset_too_many(limit: int) -> Message:
    return private_answer(
        _n(
            "There is already {count} preset here; delete it first (`/video preset delete <name>`).",
            "There are already {count} presets here; delete one first (`/video preset delete <name>`).",
            limit,
        )
    )


def presets_admins_only() -> Message:
    return private_answer(
        _(
            "Only workspace admins and owners can save or delete a channel's presets. Save your own instead: "
            "`/video preset save teaser --model pika`."
        )
    )
