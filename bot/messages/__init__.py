"""Everything videobot says in Slack: text, Block Kit and the escaping that keeps user text inert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.job import Job
from bot.messages._answers import (
    cancel_result,
    details_message,
    help_message,
    internal_error,
    models_message,
    status_message,
)
from bot.messages._form import (
    FORM_CALLBACK_ID,
    FORM_DURATION_ACTION_ID,
    FORM_MODEL_ACTION_ID,
    FormValues,
    form_cost_text,
    form_errors,
    form_refused,
    form_values,
    video_form,
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
