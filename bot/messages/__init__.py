"""Everything videobot says in Slack: text, Block Kit and the escaping that keeps user text inert."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
from bot.messages._text import (
    MAX_TEXT,
    MAX_VIEW_BLOCKS,
    Message,
    clip,
    context_block,
    escape,
    listed_in,
    mrkdwn,
    plain_text_version,
    private_answer,
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

if TYPE_CHECKING:  # types only: those modules import this one
    from bot.domain.quotas import Day, Limits, QuotaExceeded, Usage
    from bot.domain.reports import DayReport

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

# --- quotas and reports --------------------------------------------------------------------------


def _in(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def resets_text(resets_at: float, now: float, timezone: str) -> str:
    return f"at midnight {timezone}, in {_in(resets_at - now)}"


def _limit_text(limit: int, unit: str) -> str:
    return "no limit" if not limit else f"{limit} {unit}"


def _jobs(count: int) -> str:
    return f"{count} job" + ("" if count == 1 else "s")


_WHO_CAN_RAISE = (
    "A workspace admin can change this channel's limits with `/video quota set 30` or `/video quota set $50`."
)


def quota_refused(exc: QuotaExceeded, now: float, timezone: str) -> Message:
    resets = resets_text(exc.resets_at, now, timezone)
    match exc.which:
        case "channel_jobs":
            text = (
                f"This channel has used its {_jobs(exc.allowed)} for today ({exc.used} started), so nothing was "
                f"started. The quota resets {resets}. {_WHO_CAN_RAISE}"
            )
        case "channel_budget":
            text = (
                f"This job (est. {usd(exc.asked)}) would take this channel past its daily budget: {usd(exc.used)} "
                f"of {usd(exc.allowed)} used, so nothing was started. A shorter or cheaper job may still fit "
                f"(`/video help` lists prices). The budget resets {resets}. {_WHO_CAN_RAISE}"
            )
        case _:
            text = (
                f"You have started your {_jobs(exc.allowed)} for today, so nothing was started. Your limit resets "
                f"{resets}. Whoever runs videobot sets it (`VIDEOBOT_DAILY_JOBS_PER_USER`)."
            )
    return private_answer(text)


def channel_not_allowed() -> Message:
    return private_answer(
        "videobot isn't switched on for this channel, so nothing was started. Ask whoever runs videobot "
        "to add it to `VIDEOBOT_ALLOWED_CHANNELS`, or use one of the channels it works in."
    )


def quota_status(limits: Limits, usage: Usage, day: Day, now: float, timezone: str) -> Message:
    lines = [f"*Today's limits in this channel* ({day.label}, {timezone}):"]
    if limits.daily_jobs:
        left = max(0, limits.daily_jobs - usage.channel_jobs)
        lines.append(f"• Jobs: {usage.channel_jobs} of {limits.daily_jobs} used, {left} left")
    else:
        lines.append(f"• Jobs: {usage.channel_jobs} started, no limit")
    if limits.daily_budget_micros:
        left_micros = max(0, limits.daily_budget_micros - usage.channel_cost_micros)
        lines.append(
            f"• Budget: {usd(usage.channel_cost_micros)} of {usd(limits.daily_budget_micros)} used, "
            f"{usd(left_micros)} left"
        )
    else:
        lines.append(f"• Cost so far: {usd(usage.channel_cost_micros)}, no budget set")
    if limits.daily_jobs_per_user:
        lines.append(f"• You: {usage.user_jobs} of {limits.daily_jobs_per_user} jobs used today (all channels)")
    lines.append(f"Quotas reset {resets_text(day.end, now, timezone)}.")
    source = "set for this channel by an admin" if limits.channel_has_own else "the workspace defaults"
    lines.append(f"These are {source}. {_WHO_CAN_RAISE} `/video quota set off` removes them.")
    return {"response_type": "ephemeral", "text": "\n".join(lines)}


def quota_changed(limits: Limits) -> Message:
    text = (
        f"Done. This channel's daily limits are now: {_limit_text(limits.daily_jobs, 'jobs')}, "
        f"budget {usd(limits.daily_budget_micros) if limits.daily_budget_micros else 'none'}. "
        "`/video quota` shows what is used."
    )
    return {"response_type": "ephemeral", "text": text}


def quota_bad_value(value: str) -> Message:
    shown = f"`{clip(value, 200)}`" if value else "nothing"
    return {
        "response_type": "ephemeral",
        "text": f"I can't set the quota to {shown}. Use a number of jobs (`/video quota set 10`), a dollar budget "
        "(`/video quota set $25`), `off` for no limits, or `default` for the workspace defaults.",
    }


def quota_admins_only() -> Message:
    return {
        "response_type": "ephemeral",
        "text": "Only workspace admins and owners can change a channel's quota. `/video quota` shows it; "
        "ask an admin if this channel needs more.",
    }


def quota_admin_unchecked() -> Message:
    return {
        "response_type": "ephemeral",
        "text": "I couldn't check with Slack whether you are an admin, so nothing was changed. Try again in a minute.",
    }


def _report_lines(report: DayReport, names: Mapping[str, str], room: int) -> list[str]:
    """The totals, then as many people as fit the `room` left for these lines; the rest are counted."""
    lines = [
        f"• Jobs: {report.jobs} · delivered {report.delivered} · failed {report.failed}"
        + (f" · still running {report.running}" if report.running else ""),
        f"• Cost: {usd(report.cost_micros)}",
    ]
    if report.busiest_model:
        lines.append(f"• Busiest model: {report.busiest_model}")
    if report.people:
        # Names as plain text: a report must not ping everybody who made a video.
        people = [
            f"{escape(names.get(p.user_id, p.user_id))} ({_jobs(p.jobs)}, {usd(p.cost_micros)})" for p in report.people
        ]
        room -= len("\n".join(lines)) + len("\n• By: ")
        lines.append("• By: " + listed_in(people, room, ", ", lambda n: f"…and {n} more"))
    return lines


def usage_report(
    report: DayReport,
    names: Mapping[str, str],
    limits: Limits,
    usage: Usage,
    day: Day,
    now: float,
    timezone: str,
) -> Message:
    states = ", ".join(f"{state} {count}" for state, count in sorted(report.by_state.items())) or "none"
    head = f"*videobot in this channel today* ({day.label}, {timezone})"
    tail = [f"• By state: {states}"]
    if limits.daily_jobs:
        tail.append(f"• Left today: {max(0, limits.daily_jobs - usage.channel_jobs)} of {limits.daily_jobs} jobs")
    if limits.daily_budget_micros:
        left = max(0, limits.daily_budget_micros - usage.channel_cost_micros)
        tail.append(f"• Budget left: {usd(left)} of {usd(limits.daily_budget_micros)}")
    tail.append(f"Resets {resets_text(day.end, now, timezone)}.")
    room = MAX_TEXT - len(head) - len("\n".join(tail)) - 2
    return {"response_type": "ephemeral", "text": "\n".join([head, *_report_lines(report, names, room), *tail])}


def daily_report(report: DayReport, names: Mapping[str, str], *, workspace: bool = False) -> Message:
    where = f"across {report.channels} channel{'s' if report.channels != 1 else ''}" if workspace else "here"
    title = f"📊 videobot {where} on {report.day}"
    text = "\n".join([f"*{title}*", *_report_lines(report, names, MAX_TEXT - len(f"*{title}*\n"))])
    return {
        "text": title,
        "blocks": [{"type": "section", "text": mrkdwn(text)}],
        "unfurl_links": False,
        "unfurl_media": False,
    }


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
