"""App Home: the person's spending and last jobs, and for admins each channel's day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.job import Job
from bot.messages._i18n import _, _n, day, number, percent
from bot.messages._phrases import cost_phrase, status_line
from bot.messages._text import (
    MAX_VIEW_BLOCKS,
    channel_link,
    context_block,
    escape,
    linked,
    mention,
    mrkdwn,
    quote_prompt,
    usd,
)

HOME_NEW_VIDEO_ACTION_ID = "home_new_video"


@dataclass(frozen=True)
class ChannelUsage:
    channel_id: str
    jobs: int
    cost_micros: int
    daily_jobs: int  # 0: no limit


@dataclass(frozen=True)
class BudgetUse:
    """One budget in money and what its period has spent so far."""

    name: str  # "The workspace this month", "You today", "<#C1> this month"
    spent_micros: int
    allowed_micros: int


@dataclass(frozen=True)
class HomeSpending:
    """What App Home charts (issue 19): the person's last 30 days, the workspace's for admins, and the
    budgets against what their period has spent."""

    days: Sequence[tuple[date, int]]  # oldest first, today last: micro-dollars each day
    workspace_days: Sequence[tuple[date, int]] | None = None  # admins only
    budgets: Sequence[BudgetUse] = field(default_factory=tuple)


CHART_WIDTH = 24  # cells of the longest bar; each cell is eight steps wide (▏ … █)
_EIGHTHS = " ▏▎▍▌▋▊▉"


def budget_name(whose: str, channel: str = "") -> str:
    """A budget App Home shows: `workspace` (this month), `you` (today), or `channel`'s (this month)."""
    if whose == "you":
        return _("You today")
    if whose == "channel":
        return _("{channel} this month", channel=channel_link(channel))
    return _("The workspace this month")


def bar(value: int, most: int, width: int = CHART_WIDTH) -> str:
    """`value` against `most` as a bar of `width` cells, to the eighth of a cell; a sliver for anything above 0."""
    if most <= 0 or value <= 0:
        return ""
    steps = max(1, round(value * width * 8 / most))
    return "█" * (steps // 8) + (_EIGHTHS[steps % 8] if steps % 8 else "")


def short_day(when: date) -> str:
    """`Mon 06 Jan`, in the reader's language."""
    return day(when, "EEE dd MMM")


def spend_chart(title: str, days: Sequence[tuple[date, int]]) -> dict[str, Any]:
    """A day a line, in a monospace block, so the bars line up: about 1,400 characters for 30 days."""
    most = max((cost for _, cost in days), default=0)
    if not most:
        nothing = _n("Nothing spent in the last day.", "Nothing spent in the last {count} days.", len(days))
        return {"type": "section", "text": mrkdwn(f"*{title}*\n{nothing}")}
    total = sum(cost for _, cost in days)
    peak = max(days, key=lambda d: d[1])[0]
    lines = [
        f"{short_day(when)} {bar(cost, most):<{CHART_WIDTH}} {usd(cost) if cost else '·':>9}" for when, cost in days
    ]
    head = _n(
        "*{title}*: {total} in {count} day, most on {peak} ({most})",
        "*{title}*: {total} in {count} days, most on {peak} ({most})",
        len(days),
        title=title,
        total=usd(total),
        peak=short_day(peak),
        most=usd(most),
    )
    return {"type": "section", "text": mrkdwn(head + "\n```" + "\n".join(lines) + "```")}


def _budget_line(use: BudgetUse) -> str:
    share = use.spent_micros * 100 // use.allowed_micros
    gauge = bar(min(use.spent_micros, use.allowed_micros), use.allowed_micros, 10).ljust(10, "░")
    left = max(0, use.allowed_micros - use.spent_micros)
    return _(
        "• {name}: {spent} of {allowed} `{gauge}` {share} · {left} left",
        name=use.name,
        spent=usd(use.spent_micros),
        allowed=usd(use.allowed_micros),
        gauge=gauge,
        share=percent(share),
        left=usd(left),
    )


def spending_blocks(spending: HomeSpending, month_name: str) -> list[dict[str, Any]]:
    blocks = [{"type": "divider"}, spend_chart(_("Your spending"), spending.days)]
    if spending.workspace_days is not None:
        blocks.append(spend_chart(_("The workspace's spending"), spending.workspace_days))
    lines = [_budget_line(use) for use in spending.budgets] or [_("No budget in money is set.")]
    text = _("*{month} so far, against the budgets*", month=month_name) + "\n" + "\n".join(lines)
    blocks.append({"type": "section", "text": mrkdwn(text)})
    return blocks


def message_link(workspace_url: str, channel: str, ts: str | None) -> str | None:
    if not workspace_url or not ts:
        return None
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


@dataclass(frozen=True)
class Showcased:
    """A take in the showcase, as App Home lists it."""

    job: Job
    starred_by: str
    channel_id: str  # the showcase channel
    message_ts: str


def showcase_blocks(showcased: list[Showcased], workspace_url: str) -> list[dict[str, Any]]:
    """The latest showcased takes, newest first, each with a link to its post."""
    if not showcased:
        return [context_block(_("⭐ *The showcase* is empty: star a finished video (or press *Add to showcase*)."))]
    rows = [{"type": "section", "text": mrkdwn(_("*⭐ Latest in the showcase*"))}]
    for take in showcased:
        link = message_link(workspace_url, take.channel_id, take.message_ts)
        where = linked(link, _("see it")) if link else channel_link(take.channel_id)
        rows.append(
            context_block(
                _(
                    "{prompt} · {model} · by {who} · starred by {starred_by} · {where}",
                    prompt=quote_prompt(take.job.prompt, 80),
                    model=escape(take.job.model),
                    who=mention(take.job.user_id),
                    starred_by=mention(take.starred_by),
                    where=where,
                )
            )
        )
    return rows


def home_view(
    jobs: list[Job],
    spent_today: int,
    spent_month: int,
    admin_usage: list[ChannelUsage] | None,
    workspace_url: str,
    month_name: str,
    spending: HomeSpending | None = None,
    showcased: list[Showcased] | None = None,
    key_blocks: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`showcased`: the latest takes in the showcase (None: the workspace has no showcase). `key_blocks`: the
    workspace's Perf key section (messages' key_section), None where workspaces have no keys of their own."""
    blocks = _head(jobs, spent_today, spent_month, month_name)
    if spending is not None:
        # After the head's button and hint, before the jobs: what was spent reads first.
        blocks[4:4] = spending_blocks(spending, month_name)
    if key_blocks:
        # Before the divider that opens the person's jobs: who pays for this workspace's videos.
        blocks[-2:-2] = list(key_blocks)
    if showcased is not None:
        # Before the divider that opens the person's jobs: the team's best takes.
        blocks[-2:-2] = showcase_blocks(showcased, workspace_url)
    job_rows = []
    for job in jobs:
        link = message_link(workspace_url, job.where, job.root_ts)
        where = linked(link, _("thread")) if link else channel_link(job.channel_id)
        job_rows.append(
            context_block(
                f"{status_line(job).split(' · ')[0]} · {escape(job.model)} · {cost_phrase(job)} · "
                f"{quote_prompt(job.prompt, 80)} · {where}"
            )
        )
    admin_head: list[dict[str, Any]] = []
    channel_rows = []
    if admin_usage is not None:
        admin_head = [
            {"type": "divider"},
            {"type": "section", "text": mrkdwn(_("*Channels today* (you are an admin)"))},
        ]
        if not admin_usage:
            channel_rows.append(context_block(_("No jobs in any channel today.")))
        for usage in admin_usage:
            quota = (
                _n("{used} of {count} job", "{used} of {count} jobs", usage.daily_jobs, used=number(usage.jobs))
                if usage.daily_jobs
                else _n("{count} job, no limit", "{count} jobs, no limit", usage.jobs)
            )
            channel_rows.append(context_block(f"<#{escape(usage.channel_id)}> · {quota} · {usd(usage.cost_micros)}"))
    # The view's 100 blocks: jobs get at least half of what is left, channels the rest.
    room = MAX_VIEW_BLOCKS - len(blocks) - len(admin_head)
    shown = _within(job_rows, max(room // 2, room - len(channel_rows)), _more_jobs)
    blocks += shown + admin_head + _within(channel_rows, room - len(shown), _more_channels)
    return {"type": "home", "blocks": blocks}


def _more_jobs(count: int) -> str:
    return _n("…and {count} more job", "…and {count} more jobs", count)


def _more_channels(count: int) -> str:
    return _n(
        "…and {count} more channel: `/video report` in one shows its usage",
        "…and {count} more channels: `/video report` in one shows its usage",
        count,
    )


def _within(rows: list[dict[str, Any]], room: int, more: Callable[[int], str]) -> list[dict[str, Any]]:
    """At most `room` blocks; when there are more rows, the last block says how many were left out."""
    if len(rows) <= room:
        return rows
    return [*rows[: room - 1], context_block(more(len(rows) - room + 1))]


def _head(jobs: list[Job], spent_today: int, spent_month: int, month_name: str) -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "🎬 videobot"}},
        {
            "type": "section",
            "text": mrkdwn(
                _(
                    "You spent *{today}* today and *{month}* in {month_name}.",
                    today=usd(spent_today),
                    month=usd(spent_month),
                    month_name=month_name,
                )
            ),
        },
        {
            "type": "actions",
            "block_id": "new_video",
            "elements": [
                {
                    "type": "button",
                    "action_id": HOME_NEW_VIDEO_ACTION_ID,
                    "text": {"type": "plain_text", "text": _("🎬 New video")},
                    "style": "primary",
                }
            ],
        },
        context_block(_("Or type `/video` in any channel, or use *Make a video of this* on a message.")),
        {"type": "divider"},
        {
            "type": "section",
            "text": mrkdwn(
                _n("*Your last job*", "*Your last {count} jobs*", len(jobs)) if jobs else _("*No jobs yet*")
            ),
        },
    ]
