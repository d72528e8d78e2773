"""Budgets in money as people read them outside a refusal: the notice posted when a budget passes 80%,
and `/video report month`, the month by channel, person and model (issue 19)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages._i18n import N_, _, _n, percent
from bot.messages._phrases import and_more
from bot.messages._text import MAX_TEXT, Message, channel_link, escape, listed_in, mrkdwn, usd


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
    how = (
        _("A workspace admin can change it with `/video quota set month $300`.")
        if notice.whose == "channel" and notice.period == "month"
        else _("A workspace admin can change it with `/video quota set $50`.")
        if notice.whose == "channel"
        else _("Whoever runs videobot sets it (`VIDEOBOT_MONTHLY_BUDGET_USD`).")
    )
    values = {
        "share": percent(share),
        "label": notice.label,
        "spent": usd(notice.spent_micros),
        "allowed": usd(notice.allowed_micros),
        "left": usd(left),
        "resets": notice.resets,
        "how": how,
    }
    match (notice.whose == "channel", notice.period == "day"):
        case (True, True):
            head = _("⚠️ This channel has used {share} of its daily videobot budget ({label})", **values)
        case (True, False):
            head = _("⚠️ This channel has used {share} of its monthly videobot budget ({label})", **values)
        case (False, True):
            head = _("⚠️ The workspace has used {share} of its daily videobot budget ({label})", **values)
        case _:
            head = _("⚠️ The workspace has used {share} of its monthly videobot budget ({label})", **values)
    text = head + _(
        ": {spent} of {allowed} spent, {left} left. "
        "Jobs that would go past it will be refused until it resets {resets}. {how}",
        **values,
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
            _(
                "Of that, {held} is held by jobs awaiting approval, charged only if approved.",
                held=usd(budget.awaiting_micros),
            )
        )
    if budget.allowed_micros:
        left = max(0, budget.allowed_micros - total.cost_micros)
        lines.append(
            _(
                "Workspace budget: {spent} of {allowed} spent, {left} left.",
                spent=usd(total.cost_micros),
                allowed=usd(budget.allowed_micros),
                left=usd(left),
            )
        )
    lines.append(_("The month resets {resets}.", resets=budget.resets))
    return "\n".join(lines)


def _jobs(count: int) -> str:
    return _n("{count} job", "{count} jobs", count)


def _section(title: str, rows: Sequence[Spending], shown: Mapping[str, str], room: int, left_out: int = 0) -> str:
    items = [f"{shown.get(r.key, escape(r.key))} {usd(r.cost_micros)} ({_jobs(r.jobs)})" for r in rows]
    if left_out:
        room -= len(" · " + and_more(left_out))
    head = f"*{title}*\n"
    listed = listed_in(items, room - len(head), " · ", lambda n: and_more(n + left_out)) if items else _("none")
    counted = any(listed.endswith(and_more(n + left_out)) for n in range(1, len(items) + 1))
    if left_out and not counted:
        listed += " · " + and_more(left_out)
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
    head = _(
        "*videobot this month* ({label}): {cost} for {jobs}",
        label=label,
        cost=usd(total.cost_micros),
        jobs=_jobs(total.jobs),
    )
    room = MAX_TEXT
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(head)}]
    if yours is not None:
        blocks += [
            {"type": "section", "text": mrkdwn(_("*You*") + f"\n{usd(yours.cost_micros)} ({_jobs(yours.jobs)})")},
            {"type": "context", "elements": [mrkdwn(_(MONTH_DETAIL_FOR_APPROVERS))]},
        ]
    else:
        channel_names = {r.key: channel_link(r.key) for r in channels}
        people_names = {r.key: escape(names.get(r.key, r.key)) for r in people}
        blocks += [
            {"type": "section", "text": mrkdwn(_section(_("By channel"), channels, channel_names, room))},
            {"type": "section", "text": mrkdwn(_section(_("By person"), people, people_names, room, people_left_out))},
        ]
    blocks.append({"type": "section", "text": mrkdwn(_section(_("By model"), models, {}, room))})
    blocks.append({"type": "context", "elements": [mrkdwn(_month_foot(total, budget))]})
    return {"response_type": "ephemeral", "text": head, "blocks": blocks}


MONTH_DETAIL_FOR_APPROVERS = N_(
    "Each channel's and each person's spend is shown to workspace admins and approvers only."
)
