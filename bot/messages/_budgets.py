"""Budgets in money as people read them outside a refusal: the notice posted when a budget passes 80%,
and `/video report month`, the month by channel, person and model (issue 19)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages._text import MAX_TEXT, Message, escape, listed_in, mrkdwn, usd


@dataclass(frozen=True)
class BudgetNotice:
    """A budget that has passed its warning share: whose it is, of what period, what is spent."""

    whose: str  # "channel" or "workspace"
    period: str  # "day" or "month"
    label: str  # 2027-01-15, 2027-01
    spent_micros: int
    allowed_micros: int
    resets: str  # "on 1 February at midnight UTC, in 17 days"


def budget_notice(notice: BudgetNotice) -> Message:
    share = notice.spent_micros * 100 // notice.allowed_micros
    left = max(0, notice.allowed_micros - notice.spent_micros)
    whose = "This channel has" if notice.whose == "channel" else "The workspace has"
    how = (
        "A workspace admin can change it with `/video quota set month $300`."
        if notice.whose == "channel" and notice.period == "month"
        else "A workspace admin can change it with `/video quota set $50`."
        if notice.whose == "channel"
        else "Whoever runs videobot sets it (`VIDEOBOT_MONTHLY_BUDGET_USD`)."
    )
    text = (
        f"⚠️ {whose} used {share}% of its {'daily' if notice.period == 'day' else 'monthly'} videobot budget "
        f"({notice.label}): {usd(notice.spent_micros)} of {usd(notice.allowed_micros)} spent, {usd(left)} left. "
        f"Jobs that would go past it will be refused until it resets {notice.resets}. {how}"
    )
    return {
        "text": text,
        "blocks": [{"type": "section", "text": mrkdwn(text)}],
        "unfurl_links": False,
        "unfurl_media": False,
    }


@dataclass(frozen=True)
class Spending:
    """What one channel, person or model spent in the period: jobs that hold quota, and their cost."""

    key: str
    jobs: int
    cost_micros: int


@dataclass(frozen=True)
class MonthBudget:
    """The foot of `/video report month`: when the month resets, the workspace's budget (0: none), and what
    of the month's total jobs awaiting approval hold (their estimates, charged only if approved)."""

    resets: str  # "on 1 February at midnight UTC, in 17 days"
    allowed_micros: int = 0
    awaiting_micros: int = 0


def _month_foot(total: Spending, budget: MonthBudget) -> str:
    lines = []
    if budget.awaiting_micros:
        lines.append(
            f"Of that, {usd(budget.awaiting_micros)} is held by jobs awaiting approval, charged only if approved."
        )
    if budget.allowed_micros:
        left = max(0, budget.allowed_micros - total.cost_micros)
        lines.append(
            f"Workspace budget: {usd(total.cost_micros)} of {usd(budget.allowed_micros)} spent, {usd(left)} left."
        )
    lines.append(f"The month resets {budget.resets}.")
    return "\n".join(lines)


def _jobs(count: int) -> str:
    return f"{count} job" + ("" if count == 1 else "s")


def _section(title: str, rows: Sequence[Spending], shown: Mapping[str, str], room: int, left_out: int = 0) -> str:
    items = [f"{shown.get(r.key, escape(r.key))} {usd(r.cost_micros)} ({_jobs(r.jobs)})" for r in rows]
    if left_out:
        room -= len(f" · …and {left_out} more")
    head = f"*{title}*\n"
    listed = listed_in(items, room - len(head), " · ", lambda n: f"…and {n + left_out} more") if items else "none"
    if left_out and not listed.endswith(" more"):
        listed += f" · …and {left_out} more"
    return head + listed


def month_report(
    label: str,
    total: Spending,
    channels: Sequence[Spending],
    people: Sequence[Spending],
    models: Sequence[Spending],
    names: Mapping[str, str],
    budget: MonthBudget,
    people_left_out: int = 0,
    *,
    yours: Spending | None = None,
) -> Message:
    """`/video report month`, privately: the month's total, then by channel, person and model, most first.

    Channels are linked (`<#C…>` pings nobody), people named as plain text, so the report pings nobody.
    `yours` set: the asker is neither an admin nor an approver, and sees their own spend in place of every
    channel's and person's (private channels' included)."""
    head = f"*videobot this month* ({label}): {usd(total.cost_micros)} for {_jobs(total.jobs)}"
    room = MAX_TEXT
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(head)}]
    if yours is not None:
        blocks += [
            {"type": "section", "text": mrkdwn(f"*You*\n{usd(yours.cost_micros)} ({_jobs(yours.jobs)})")},
            {"type": "context", "elements": [mrkdwn(MONTH_DETAIL_FOR_APPROVERS)]},
        ]
    else:
        channel_names = {r.key: f"<#{escape(r.key)}>" for r in channels}
        people_names = {r.key: escape(names.get(r.key, r.key)) for r in people}
        blocks += [
            {"type": "section", "text": mrkdwn(_section("By channel", channels, channel_names, room))},
            {"type": "section", "text": mrkdwn(_section("By person", people, people_names, room, people_left_out))},
        ]
    blocks.append({"type": "section", "text": mrkdwn(_section("By model", models, {}, room))})
    blocks.append({"type": "context", "elements": [mrkdwn(_month_foot(total, budget))]})
    return {"response_type": "ephemeral", "text": head, "blocks": blocks}


MONTH_DETAIL_FOR_APPROVERS = "Each channel's and each person's spend is shown to workspace admins and approvers only."
