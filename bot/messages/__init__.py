"""Everything videobot says in Slack: text, Block Kit and the escaping that keeps user text inert."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain import catalogue
from bot.domain.job import Job
from bot.domain.request import MAX_PROMPT_CHARS, CommandError
from bot.messages._answers import (
    cancel_result,
    details_message,
    help_message,
    internal_error,
    models_message,
    status_message,
)
from bot.messages._phrases import command_error, emoji, settings_line, status_line
from bot.messages._quotas import (
    channel_not_allowed,
    daily_report,
    quota_admin_unchecked,
    quota_admins_only,
    quota_bad_value,
    quota_changed,
    quota_refused,
    quota_status,
    resets_text,
    usage_report,
)
from bot.messages._text import (
    MAX_TEXT,
    MAX_VIEW_BLOCKS,
    Message,
    clip,
    context_block,
    escape,
    mrkdwn,
    plain_text_version,
    quote_prompt,
    seconds_text,
    usd,
)
from bot.messages._thread import (
    CANCEL_ACTION_ID,
    DETAILS_ACTION_ID,
    RERUN_ACTION_ID,
    cannot_post_in_channel,
    ordinal,
    progress_bar,
    progress_message,
    rerun_refused,
    rerun_unavailable,
    root_message,
    upload_title,
    video_filename,
)

__all__ = [
    "CANCEL_ACTION_ID",
    "DETAILS_ACTION_ID",
    "FORM_CALLBACK_ID",
    "FORM_DURATION_ACTION_ID",
    "FORM_MODEL_ACTION_ID",
    "MAX_TEXT",
    "MAX_VIEW_BLOCKS",
    "RERUN_ACTION_ID",
    "ChannelUsage",
    "FormValues",
    "Message",
    "cancel_result",
    "cannot_post_in_channel",
    "channel_not_allowed",
    "clip",
    "command_error",
    "daily_report",
    "details_message",
    "emoji",
    "escape",
    "form_cost_text",
    "form_errors",
    "form_refused",
    "form_values",
    "help_message",
    "home_view",
    "internal_error",
    "message_link",
    "models_message",
    "ordinal",
    "plain_text_version",
    "progress_bar",
    "progress_message",
    "quota_admin_unchecked",
    "quota_admins_only",
    "quota_bad_value",
    "quota_changed",
    "quota_refused",
    "quota_status",
    "rerun_refused",
    "rerun_unavailable",
    "resets_text",
    "root_message",
    "seconds_text",
    "settings_line",
    "status_message",
    "upload_title",
    "usage_report",
    "usd",
    "video_filename",
    "video_form",
]

# --- the form (a bare /video) ------------------------------------------------------------------------

FORM_CALLBACK_ID = "video_form"
FORM_MODEL_ACTION_ID = "form_model"
FORM_DURATION_ACTION_ID = "form_duration"


@dataclass(frozen=True)
class FormValues:
    prompt: str = ""
    model: str = catalogue.DEFAULT_MODEL
    duration: str = str(int(catalogue.DEFAULT_DURATION_SECONDS))
    resolution: str = catalogue.DEFAULT_RESOLUTION
    aspect_ratio: str = catalogue.DEFAULT_ASPECT_RATIO
    private: bool = False


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
        limit = f" ({model.name} goes up to {model.max_duration_seconds} s)" if model else ""
        return f"💰 Estimated cost: pick a duration{limit}"
    return (
        f"💰 Estimated cost: *{usd(catalogue.estimated_cost_micros(model.name, seconds))}* ({model.name}, {seconds} s)"
    )


def video_form(channel_id: str, values: FormValues | None = None) -> dict[str, Any]:
    """The modal a bare `/video` opens; `channel_id` rides along in private_metadata."""
    values = values or FormValues()
    models = [
        _option(f"{m.name} — up to {m.max_duration_seconds} s, ${m.price_per_second}/s", m.name, m.provider)
        for m in catalogue.MODELS.values()
    ]
    aspects = [_option(ratio, ratio, use) for ratio, use in catalogue.ASPECT_RATIOS.items()]
    resolutions = [_option(r, r) for r in catalogue.RESOLUTIONS]

    def chosen(options: list[dict[str, Any]], value: str) -> dict[str, Any]:
        return next((o for o in options if o["value"] == value), options[0])

    private_option = _option("Only me: post it in a direct message to me", "private")
    private_box: dict[str, Any] = {"type": "checkboxes", "action_id": "private", "options": [private_option]}
    if values.private:
        private_box["initial_options"] = [private_option]
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK_ID,
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "title": {"type": "plain_text", "text": "Make a video"},
        "submit": {"type": "plain_text", "text": "Make it"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "prompt",
                "label": {"type": "plain_text", "text": "What should it show?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "prompt",
                    "multiline": True,
                    "max_length": MAX_PROMPT_CHARS,
                    "initial_value": values.prompt[:MAX_PROMPT_CHARS],  # the field's own max_length
                    "placeholder": {"type": "plain_text", "text": "A lighthouse in a storm, waves crashing"},
                },
                "hint": {"type": "plain_text", "text": "Name the camera movement, the lighting and the mood."},
            },
            {
                "type": "input",
                "block_id": "model",
                "dispatch_action": True,
                "label": {"type": "plain_text", "text": "Model"},
                "element": {
                    "type": "static_select",
                    "action_id": FORM_MODEL_ACTION_ID,
                    "options": models,
                    "initial_option": chosen(models, values.model),
                },
            },
            {
                "type": "input",
                "block_id": "duration",
                "dispatch_action": True,
                "label": {"type": "plain_text", "text": "Duration in seconds"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": FORM_DURATION_ACTION_ID,
                    "initial_value": values.duration,
                    "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
                },
            },
            {
                "type": "input",
                "block_id": "aspect",
                "label": {"type": "plain_text", "text": "Aspect ratio"},
                "element": {
                    "type": "static_select",
                    "action_id": "aspect",
                    "options": aspects,
                    "initial_option": chosen(aspects, values.aspect_ratio),
                },
            },
            {
                "type": "input",
                "block_id": "resolution",
                "label": {"type": "plain_text", "text": "Resolution"},
                "element": {
                    "type": "static_select",
                    "action_id": "resolution",
                    "options": resolutions,
                    "initial_option": chosen(resolutions, values.resolution),
                },
            },
            {
                "type": "input",
                "block_id": "private",
                "optional": True,
                "label": {"type": "plain_text", "text": "Who sees it"},
                "element": private_box,
            },
            {
                "type": "context",
                "block_id": "cost",
                "elements": [{"type": "mrkdwn", "text": clip(form_cost_text(values), MAX_TEXT, sent=True)}],
            },
        ],
    }


def form_values(view: dict[str, Any]) -> FormValues:
    """Read what the person entered, whatever state the view is in; missing fields take the defaults."""
    state = ((view.get("state") or {}).get("values")) or {}

    def value(block: str) -> str:
        for element in (state.get(block) or {}).values():
            if isinstance(element, dict):
                if isinstance(element.get("value"), str):
                    return str(element["value"])
                selected = element.get("selected_option")
                if isinstance(selected, dict) and isinstance(selected.get("value"), str):
                    return str(selected["value"])
        return ""

    private_state: Any = next(iter((state.get("private") or {}).values()), {})
    private = bool(isinstance(private_state, dict) and private_state.get("selected_options"))
    defaults = FormValues()
    return FormValues(
        prompt=value("prompt"),
        model=value("model") or defaults.model,
        duration=value("duration"),
        resolution=value("resolution") or defaults.resolution,
        aspect_ratio=value("aspect") or defaults.aspect_ratio,
        private=private,
    )


_FIELD_OF_ERROR = {
    "empty_prompt": "prompt",
    "prompt_too_long": "prompt",
    "unknown_model": "model",
    "bad_duration": "duration",
    "duration_too_long": "duration",
    "unknown_resolution": "resolution",
    "unknown_aspect": "aspect",
}


def form_errors(error: CommandError) -> dict[str, str]:
    """`response_action: errors` for the form: the message sits under the field that is wrong."""
    return {_FIELD_OF_ERROR.get(error.code, "prompt"): command_error(error)["text"]}


def form_refused(text: str) -> dict[str, str]:
    return {"prompt": clip(text, 2_000, sent=True)}


# --- App Home ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelUsage:
    channel_id: str
    jobs: int
    cost_micros: int
    daily_jobs: int  # 0: no limit


def message_link(workspace_url: str, channel: str, ts: str | None) -> str | None:
    if not workspace_url or not ts:
        return None
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def home_view(
    jobs: list[Job],
    spent_today: int,
    spent_month: int,
    admin_usage: list[ChannelUsage] | None,
    workspace_url: str,
    month_name: str,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "🎬 videobot"}},
        {
            "type": "section",
            "text": mrkdwn(f"You spent *{usd(spent_today)}* today and *{usd(spent_month)}* in {month_name}."),
        },
        context_block("Type `/video` in any channel to make a video."),
        {"type": "divider"},
        {"type": "section", "text": mrkdwn(f"*Your last {len(jobs)} jobs*" if jobs else "*No jobs yet*")},
    ]
    job_rows = []
    for job in jobs:
        link = message_link(workspace_url, job.where, job.root_ts)
        where = f"<{link}|thread>" if link else f"<#{escape(job.channel_id)}>"
        job_rows.append(
            context_block(
                f"{status_line(job).split(' · ')[0]} · {escape(job.model)} · {usd(job.cost_micros)} · "
                f"{quote_prompt(job.prompt, 80)} · {where}"
            )
        )
    admin_head: list[dict[str, Any]] = []
    channel_rows = []
    if admin_usage is not None:
        admin_head = [{"type": "divider"}, {"type": "section", "text": mrkdwn("*Channels today* (you are an admin)")}]
        if not admin_usage:
            channel_rows.append(context_block("No jobs in any channel today."))
        for usage in admin_usage:
            quota = f"{usage.jobs} of {usage.daily_jobs} jobs" if usage.daily_jobs else f"{usage.jobs} jobs, no limit"
            channel_rows.append(context_block(f"<#{escape(usage.channel_id)}> · {quota} · {usd(usage.cost_micros)}"))
    # The view's 100 blocks: jobs get at least half of what is left, channels the rest.
    room = MAX_VIEW_BLOCKS - len(blocks) - len(admin_head)
    shown = _within(job_rows, max(room // 2, room - len(channel_rows)), "jobs")
    more_channels = "channels: `/video report` in one shows its usage"
    blocks += shown + admin_head + _within(channel_rows, room - len(shown), more_channels)
    return {"type": "home", "blocks": blocks}


def _within(rows: list[dict[str, Any]], room: int, what: str) -> list[dict[str, Any]]:
    """At most `room` blocks; when there are more rows, the last block says how many were left out."""
    if len(rows) <= room:
        return rows
    return [*rows[: room - 1], context_block(f"…and {len(rows) - room + 1} more {what}")]
