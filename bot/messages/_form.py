"""The form a bare `/video` opens: its view, reading it back, and the errors shown under its fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bot.domain import catalogue, drafts
from bot.domain.job import Job
from bot.domain.request import MAX_PROMPT_CHARS, CommandError, validate_form
from bot.messages._i18n import _, price
from bot.messages._phrases import aspect_use, command_error
from bot.messages._text import MAX_TEXT, clip, escape, seconds_text, usd

FORM_CALLBACK_ID = "video_form"
FORM_MODEL_ACTION_ID = "form_model"
FORM_DURATION_ACTION_ID = "form_duration"
FORM_DRAFT_ACTION_ID = "draft"  # ticking "Draft first" changes the cost line too
FORM_PRESET_ACTION_ID = "form_preset"  # picking a preset fills in its settings
# The form's menu of presets lists this many (their names ride in private_metadata, 3,000 characters).
FORM_MAX_PRESETS = 20
# The fields a preset fills in. Slack keeps what a field shows across views.update while its block_id stays
# the same, so a preset picked gives them new block_ids: `<field>~<revision>`.
_PRESET_FIELDS = frozenset({"model", "duration", "aspect", "resolution", "style"})
# The other ways into the form: a message's shortcut and the global shortcut (and App Home's button).
MESSAGE_SHORTCUT_ID = "video_from_message"
GLOBAL_SHORTCUT_ID = "new_video"


@dataclass(frozen=True)
class FormPlace:
    """Where the form's job goes, carried in the view's private_metadata: a channel (and a thread in it),
    or, opened from nowhere in particular (the global shortcut, App Home), the channel the person picks."""

    channel_id: str = ""
    thread_ts: str | None = None
    pick_channel: bool = False
    # A remix: the job it starts from, what that job cost and ran with (shown beside the new cost), and
    # whether it was private (a remix of a private job stays private).
    remix_of: str | None = None
    remix_cost_micros: int = 0
    remix_settings: str = ""
    remix_private: bool = False
    # A remix of a draft opens on the settings asked for with "Draft first" ticked: another draft, unless unticked.
    remix_draft: bool = False
    # The presets the person may pick here (the form's menu), and how many times one was picked (block_ids).
    presets: tuple[str, ...] = ()
    revision: int = 0

    def block_id(self, field: str) -> str:
        return f"{field}~{self.revision}" if self.revision and field in _PRESET_FIELDS else field

    def metadata(self) -> str:
        fields: dict[str, Any] = {"channel_id": self.channel_id}
        if self.presets:
            fields["presets"] = list(self.presets[:FORM_MAX_PRESETS])
        if self.revision:
            fields["rev"] = self.revision
        if self.thread_ts:
            fields["thread_ts"] = self.thread_ts
        if self.pick_channel:
            fields["pick_channel"] = True
        if self.remix_of:
            fields["remix"] = [
                self.remix_of,
                self.remix_cost_micros,
                self.remix_settings[:200],
                self.remix_private,
                self.remix_draft,
            ]
        return json.dumps(fields)


def form_place(view: dict[str, Any]) -> FormPlace:
    try:
        fields = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        fields = {}
    if not isinstance(fields, dict):
        fields = {}
    thread_ts = fields.get("thread_ts")
    remix = fields.get("remix")
    # Four fields in views opened before drafts could be remixed, five since.
    remix_of, cost, settings, private, draft = (
        [*remix, False][:5] if isinstance(remix, list) and len(remix) in (4, 5) else ("", 0, "", False, False)
    )
    presets = fields.get("presets")
    revision = fields.get("rev")
    return FormPlace(
        presets=tuple(str(name) for name in presets[:FORM_MAX_PRESETS]) if isinstance(presets, list) else (),
        revision=revision if isinstance(revision, int) and revision > 0 else 0,
        channel_id=str(fields.get("channel_id") or ""),
        thread_ts=thread_ts if isinstance(thread_ts, str) and thread_ts else None,
        pick_channel=fields.get("pick_channel") is True,
        remix_of=remix_of if isinstance(remix_of, str) and remix_of else None,
        remix_cost_micros=cost if isinstance(cost, int) else 0,
        remix_settings=str(settings),
        remix_private=private is True,
        remix_draft=draft is True,
    )


def remix_form(job: Job) -> dict[str, Any]:
    """The form prefilled with `job`'s prompt and settings, for a remix of it in its own conversation.

    A draft's remix opens on the settings asked for, with "Draft first" ticked: what is being iterated on is
    the full version, previewed; unticked, it is made at once (the preview's own settings are the draft's)."""
    full = drafts.full_request(job) if job.full_settings is not None else None
    asked = full if full is not None and not isinstance(full, CommandError) else None
    values = FormValues(
        prompt=job.prompt,
        # A model the catalogue no longer has can't be picked again: the menu opens on the default, and the
        # cost line names the original's model as no longer offered.
        model=asked.model if asked else job.model if job.model in catalogue.MODELS else catalogue.DEFAULT_MODEL,
        duration=str(asked.duration_seconds if asked else job.duration_seconds),
        resolution=asked.resolution if asked else job.resolution,
        aspect_ratio=asked.aspect_ratio if asked else job.aspect_ratio,
        private=job.private,
        draft=asked is not None,
    )
    place = FormPlace(
        channel_id=job.channel_id,
        thread_ts=job.thread_ts,
        remix_of=job.id,
        remix_cost_micros=job.cost_micros,
        remix_settings=f"{job.model}, {seconds_text(job.duration_seconds)}"
        + ("" if job.model in catalogue.MODELS else _(", a model no longer offered")),
        remix_private=job.private,
        remix_draft=asked is not None,
    )
    return video_form(job.channel_id, values, place=place)


@dataclass(frozen=True)
class FormValues:
    prompt: str = ""
    model: str = catalogue.DEFAULT_MODEL
    duration: str = str(int(catalogue.DEFAULT_DURATION_SECONDS))
    resolution: str = catalogue.DEFAULT_RESOLUTION
    aspect_ratio: str = catalogue.DEFAULT_ASPECT_RATIO
    private: bool = False
    channel: str = ""  # the channel picked in the form, when it asks for one
    style: str = ""  # added to the prompt sent; opens with the person's or the channel's default style
    draft: bool = False  # a cheap preview first (bot.domain.drafts)


def _option(text: str, value: str, description: str = "") -> dict[str, Any]:
    option: dict[str, Any] = {"text": {"type": "plain_text", "text": clip(text, 75, sent=True)}, "value": value}
    if description:
        option["description"] = {"type": "plain_text", "text": clip(description, 75, sent=True)}
    return option


def form_cost_text(values: FormValues) -> str:
    model = catalogue.MODELS.get(values.model)
    try:
        seconds = Decimal(values.duration.strip().rstrip("s").strip())
    except ArithmeticError:
        seconds = Decimal(-1)
    if model is None or not (0 < seconds <= model.max_duration_seconds):
        if model is None:
            return _("💰 Estimated cost: pick a duration")
        return _(
            "💰 Estimated cost: pick a duration ({model} goes up to {limit})",
            model=model.name,
            limit=seconds_text(model.max_duration_seconds),
        )
    return _(
        "💰 Estimated cost: *{cost}* ({model}, {seconds})",
        cost=usd(catalogue.estimated_cost_micros(model.name, seconds)),
        model=model.name,
        seconds=seconds_text(seconds),
    )


def _cost_text(values: FormValues, place: FormPlace) -> str:
    """The cost line: a draft's says what it and then its full version cost; a remix's says what the original
    cost and what the change adds or saves."""
    text = form_cost_text(values)
    request = validate_form(values.prompt or "-", values.model, values.duration, values.resolution, values.aspect_ratio)
    original = _(
        "the original: {cost} ({settings})", cost=usd(place.remix_cost_micros), settings=escape(place.remix_settings)
    )
    if isinstance(request, CommandError):
        return f"{text} · {original}" if place.remix_of else text
    cost = request.estimated_cost_micros
    if values.draft:
        draft = drafts.draft_of(request)
        cost = draft.estimated_cost_micros
        text = _(
            "💰 Estimated cost: *{cost}* for the draft ({model}, {seconds}), then {full} for the full version",
            cost=usd(cost),
            model=draft.model,
            seconds=seconds_text(draft.duration_seconds),
            full=usd(request.estimated_cost_micros),
        )
    if not place.remix_of:
        return text
    change = cost - place.remix_cost_micros
    difference = _("the same") if change == 0 else f"{'+' if change > 0 else '−'}{usd(abs(change))}"
    return f"{text} · {original} · {difference}"


def video_form(channel_id: str, values: FormValues | None = None, *, place: FormPlace | None = None) -> dict[str, Any]:
    """The modal a bare `/video` (or a shortcut) opens; where its job goes rides along in private_metadata."""
    values = values or FormValues()
    place = place or FormPlace(channel_id)
    models = [
        _option(
            _(
                "{model} — up to {limit}, {price}/s",
                model=m.name,
                limit=seconds_text(m.max_duration_seconds),
                price=price(m.price_per_second),
            ),
            m.name,
            m.provider,
        )
        for m in catalogue.MODELS.values()
    ]
    aspects = [_option(ratio, ratio, aspect_use(ratio)) for ratio in catalogue.ASPECT_RATIOS]
    resolutions = [_option(r, r) for r in catalogue.RESOLUTIONS]
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK_ID,
        "private_metadata": place.metadata(),
        "title": {"type": "plain_text", "text": _("Remix a video") if place.remix_of else _("Make a video")},
        "submit": {"type": "plain_text", "text": _("Make it")},
        "close": {"type": "plain_text", "text": _("Cancel")},
        "blocks": [
            *([_channel_input(values.channel)] if place.pick_channel else []),
            _prompt_input(values.prompt),
            *([_preset_menu(place.presets)] if place.presets and not place.remix_of else []),
            _select_input(
                place.block_id("model"), _("Model"), FORM_MODEL_ACTION_ID, models, values.model, dispatch=True
            ),
            _duration_input(values.duration, place.block_id("duration")),
            _select_input(place.block_id("aspect"), _("Aspect ratio"), "aspect", aspects, values.aspect_ratio),
            _select_input(place.block_id("resolution"), _("Resolution"), "resolution", resolutions, values.resolution),
            # A remix's prompt already ends with its style; it is a preview only if its original was one.
            *([] if place.remix_of else [_style_input(values.style, place.block_id("style"))]),
            _private_note() if place.remix_private else _private_input(values.private),
            *([] if place.remix_of and not place.remix_draft else [_draft_input(values.draft)]),
            {
                "type": "context",
                "block_id": "cost",
                "elements": [{"type": "mrkdwn", "text": clip(_cost_text(values, place), MAX_TEXT, sent=True)}],
            },
        ],
    }


def _channel_input(channel: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": "channel",
        # Public channels only: the bot may post in any of them (chat:write.public) and everyone there sees it.
        "filter": {"include": ["public"], "exclude_bot_users": True},
        "placeholder": {"type": "plain_text", "text": _("Pick a channel")},
    }
    if channel:
        element["initial_conversation"] = channel
    return {
        "type": "input",
        "block_id": "channel",
        "label": {"type": "plain_text", "text": _("Post it in")},
        "element": element,
    }


def _prompt_input(prompt: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "prompt",
        "label": {"type": "plain_text", "text": _("What should it show?")},
        "element": {
            "type": "plain_text_input",
            "action_id": "prompt",
            "multiline": True,
            "max_length": MAX_PROMPT_CHARS,
            "initial_value": prompt[:MAX_PROMPT_CHARS],  # the field's own max_length
            "placeholder": {"type": "plain_text", "text": _("A lighthouse in a storm, waves crashing")},
        },
        "hint": {"type": "plain_text", "text": _("Name the camera movement, the lighting and the mood.")},
    }


def _select_input(
    block_id: str, label: str, action_id: str, options: list[dict[str, Any]], value: str, *, dispatch: bool = False
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id}
    if dispatch:  # the cost line follows the choice while the form is open
        block["dispatch_action"] = True
    block["label"] = {"type": "plain_text", "text": label}
    chosen = next((o for o in options if o["value"] == value), options[0])
    block["element"] = {"type": "static_select", "action_id": action_id, "options": options, "initial_option": chosen}
    return block


def _preset_menu(names: tuple[str, ...]) -> dict[str, Any]:
    """Picking a preset fills in its settings below (what is changed after still wins)."""
    return {
        "type": "actions",
        "block_id": "preset",
        "elements": [
            {
                "type": "static_select",
                "action_id": FORM_PRESET_ACTION_ID,
                "placeholder": {"type": "plain_text", "text": _("Start from a preset")},
                "options": [_option(name, name) for name in names[:FORM_MAX_PRESETS]],
            }
        ],
    }


def preset_values(values: FormValues, options: Mapping[str, str]) -> FormValues:
    """The form's values with a preset's settings over them (the prompt, channel and boxes kept)."""
    return replace(
        values,
        model=options.get("model") or values.model,
        duration=options.get("duration") or values.duration,
        aspect_ratio=options.get("aspect") or values.aspect_ratio,
        resolution=options.get("resolution") or values.resolution,
        style=options.get("style") or values.style,
    )


def _duration_input(duration: str, block_id: str = "duration") -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "dispatch_action": True,
        "label": {"type": "plain_text", "text": _("Duration in seconds")},
        "element": {
            "type": "plain_text_input",
            "action_id": FORM_DURATION_ACTION_ID,
            "initial_value": duration,
            "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
        },
    }


def _style_input(style: str, block_id: str = "style") -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "style",
        "max_length": 500,
        "placeholder": {"type": "plain_text", "text": _("35 mm film, soft light")},
    }
    if style:
        element["initial_value"] = style[:500]
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": _("Style")},
        "element": element,
        "hint": {"type": "plain_text", "text": _("Added at the end of the prompt sent to Perf.")},
    }


def _draft_input(draft: bool) -> dict[str, Any]:
    model = drafts.draft_model()
    option = _option(
        _(
            "Draft first: {model}, {seconds}, {resolution}",
            model=model.name,
            seconds=seconds_text(drafts.DRAFT_SECONDS),
            resolution=drafts.DRAFT_RESOLUTION,
        ),
        "draft",
        _("A cheap preview; its message offers to make the full version."),
    )
    # Dispatched: the cost line follows it.
    return _checkbox_input("draft", _("Draft"), FORM_DRAFT_ACTION_ID, option, draft, dispatch=True)


def _private_input(private: bool) -> dict[str, Any]:
    option = _option(_("Only me: post it in a direct message to me"), "private")
    return _checkbox_input("private", _("Who sees it"), "private", option, private)


def _checkbox_input(
    block_id: str, label: str, action_id: str, option: dict[str, Any], ticked: bool, *, dispatch: bool = False
) -> dict[str, Any]:
    """An optional field of one box."""
    box: dict[str, Any] = {"type": "checkboxes", "action_id": action_id, "options": [option]}
    if ticked:
        box["initial_options"] = [option]
    block: dict[str, Any] = {"type": "input", "block_id": block_id}
    if dispatch:
        block["dispatch_action"] = True
    return block | {"optional": True, "label": {"type": "plain_text", "text": label}, "element": box}


def _private_note() -> dict[str, Any]:
    text = _("🔒 Only you will see it: a remix of a private video is made in a direct message to you too.")
    return {"type": "context", "block_id": "private", "elements": [{"type": "mrkdwn", "text": text}]}


def form_values(view: dict[str, Any]) -> FormValues:
    """Read what the person entered, whatever state the view is in; missing fields take the defaults."""
    # A field renamed when a preset was picked (`model~2`) is still the model.
    state = {
        str(key).split("~", 1)[0]: value for key, value in (((view.get("state") or {}).get("values")) or {}).items()
    }

    def value(block: str) -> str:
        for element in (state.get(block) or {}).values():
            if isinstance(element, dict):
                if isinstance(element.get("value"), str):
                    return str(element["value"])
                if isinstance(element.get("selected_conversation"), str):
                    return str(element["selected_conversation"])
                selected = element.get("selected_option")
                if isinstance(selected, dict) and isinstance(selected.get("value"), str):
                    return str(selected["value"])
        return ""

    def ticked(block: str) -> bool:
        box: Any = next(iter((state.get(block) or {}).values()), {})
        return bool(isinstance(box, dict) and box.get("selected_options"))

    defaults = FormValues()
    return FormValues(
        prompt=value("prompt"),
        model=value("model") or defaults.model,
        duration=value("duration"),
        resolution=value("resolution") or defaults.resolution,
        aspect_ratio=value("aspect") or defaults.aspect_ratio,
        private=ticked("private"),
        channel=value("channel"),
        style=value("style"),
        draft=ticked("draft"),
    )


_FIELD_OF_ERROR = {
    "empty_prompt": "prompt",
    "prompt_too_long": "prompt",
    "unknown_model": "model",
    "bad_duration": "duration",
    "duration_too_long": "duration",
    "unknown_resolution": "resolution",
    "unknown_aspect": "aspect",
    "missing_value": "style",
}


def form_errors(error: CommandError, place: FormPlace | None = None) -> dict[str, str]:
    """`response_action: errors` for the form: the message sits under the field that is wrong."""
    field = _FIELD_OF_ERROR.get(error.code, "prompt")
    return {(place or FormPlace()).block_id(field): command_error(error)["text"]}


def form_refused(text: str, field: str = "prompt") -> dict[str, str]:
    return {field: clip(text, 2_000, sent=True)}


def form_channel_missing() -> dict[str, str]:
    return {"channel": _("Pick the channel to post the video in.")}
