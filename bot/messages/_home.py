"""App Home: the person's spending and last jobs, and for admins each channel's day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.job import Job
from bot.messages._phrases import status_line
from bot.messages._text import MAX_VIEW_BLOCKS, context_block, escape, mrkdwn, quote_prompt, usd

HOME_NEW_VIDEO_ACTION_ID = "home_new_video"


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
    blocks = _head(jobs, spent_today, spent_month, month_name)
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


def _head(jobs: list[Job], spent_today: int, spent_month: int, month_name: str) -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "🎬 videobot"}},
        {
            "type": "section",
            "text": mrkdwn(f"You spent *{usd(spent_today)}* today and *{usd(spent_month)}* in {month_name}."),
        },
        {
            "type": "actions",
            "block_id": "new_video",
            "elements": [
                {
                    "type": "button",
                    "action_id": HOME_NEW_VIDEO_ACTION_ID,
                    "text": {"type": "plain_text", "text": "🎬 New video"},
                    "style": "primary",
                }
            ],
        },
        context_block("Or type `/video` in any channel, or use *Make a video of this* on a message."),
        {"type": "divider"},
        {"type": "section", "text": mrkdwn(f"*Your last {len(jobs)} jobs*" if jobs else "*No jobs yet*")},
    ]
