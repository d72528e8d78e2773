"""Who may start a job, and how much: the refusals (a channel not switched on, a quota used up),
`/video quota`, and the day's reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.quotas import ChannelNotAllowed, Day, Limits, QuotaExceeded, QuotaLimit, Usage
from bot.domain.reports import DayReport
from bot.messages._text import (
    MAX_TEXT,
    Message,
    clip,
    escape,
    listed_in,
    mrkdwn,
    private_answer,
    seconds_text,
    usd,
)


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
        case QuotaLimit.CHANNEL_JOBS:
            text = (
                f"This channel has used its {_jobs(exc.allowed)} for today ({exc.used} started), so nothing was "
                f"started. The quota resets {resets}. {_WHO_CAN_RAISE}"
            )
        case QuotaLimit.CHANNEL_BUDGET:
            text = _money_refused(exc, "this channel past its daily budget", resets, _WHO_CAN_RAISE)
        case QuotaLimit.USER_JOBS:
            text = (
                f"You have started your {_jobs(exc.allowed)} for today, so nothing was started. Your limit resets "
                f"{resets}. Whoever runs videobot sets it (`VIDEOBOT_DAILY_JOBS_PER_USER`)."
            )
        case _:
            text = _budget_refused(exc, now, timezone)
    return private_answer(text)


# --- budgets in money and the account's own limit (issue 19) -----------------------------------------


def _local(at: float, timezone: str) -> datetime:
    return datetime.fromtimestamp(at, ZoneInfo(timezone))


def month_resets_text(resets_at: float, now: float, timezone: str) -> str:
    """`on 1 January at midnight Europe/Berlin, in 30 days`: when a monthly budget starts again."""
    local = _local(resets_at, timezone)
    days = (resets_at - now) / 86_400
    left = f"in {round(days)} day{'s' if round(days) != 1 else ''}" if days >= 1.5 else f"in {_in(resets_at - now)}"
    return f"on {local.day} {local:%B} at midnight {timezone}, {left}"


def _cheaper_text(exc: QuotaExceeded) -> str:
    """The settings that would fit what is left, as options to type: a shorter duration, another model."""
    if not exc.cheaper:
        return "No shorter or cheaper setting fits what is left."
    options = [
        f"`--model {s.model} --duration {seconds_text(s.duration_seconds).removesuffix(' s')}` "
        f"(est. {usd(s.cost_micros)})"
        for s in exc.cheaper
    ]
    return f"It would fit as {' or '.join(options)}."


def _money_refused(exc: QuotaExceeded, past: str, resets: str, who: str) -> str:
    return (
        f"This job (est. {usd(exc.asked)}) would take {past}: {usd(exc.used)} of {usd(exc.allowed)} used, "
        f"{usd(exc.left)} left, so nothing was started. {_cheaper_text(exc)} The budget resets {resets}. {who}"
    )


def _budget_refused(exc: QuotaExceeded, now: float, timezone: str) -> str:
    match exc.which:
        case QuotaLimit.USER_BUDGET:
            who = "Whoever runs videobot sets it (`VIDEOBOT_DAILY_BUDGET_USD_PER_USER`)."
            return _money_refused(exc, "you past your daily budget", resets_text(exc.resets_at, now, timezone), who)
        case QuotaLimit.CHANNEL_MONTH_BUDGET:
            who = "A workspace admin can change it with `/video quota set month $300`."
            resets = month_resets_text(exc.resets_at, now, timezone)
            return _money_refused(exc, "this channel past its monthly budget", resets, who)
        case QuotaLimit.WORKSPACE_MONTH_BUDGET:
            who = "Whoever runs videobot sets it (`VIDEOBOT_MONTHLY_BUDGET_USD`)."
            resets = month_resets_text(exc.resets_at, now, timezone)
            return _money_refused(exc, "the workspace past its monthly budget", resets, who)
        case _:
            free_at = _local(exc.resets_at, timezone)
            return (
                f"The Perf account behind videobot makes at most {_jobs(exc.allowed)} a day, and {exc.used} were "
                "started in the last 24 hours, so nothing was started (Perf would refuse it). The next one is free "
                f"at {free_at:%H:%M} {timezone}, in {_in(exc.resets_at - now)}. Perf's docs don't say when its day "
                "starts, so videobot counts the last 24 hours. Whoever runs videobot sets this to the account's "
                "plan (`VIDEOBOT_ACCOUNT_DAILY_JOBS`; Free: 5, Pro: 100)."
            )


def channel_not_allowed() -> Message:
    return private_answer(
        "videobot isn't switched on for this channel, so nothing was started. Ask whoever runs videobot "
        "to add it to `VIDEOBOT_ALLOWED_CHANNELS`, or use one of the channels it works in."
    )


def admission_refused(exc: ChannelNotAllowed | QuotaExceeded, now: float, timezone: str) -> Message:
    """Why a job was not admitted, worded the same for the command, the form and a rerun."""
    if isinstance(exc, ChannelNotAllowed):
        return channel_not_allowed()
    return quota_refused(exc, now, timezone)


def _money_status(limits: Limits, usage: Usage, now: float, timezone: str, month: Day) -> list[str]:
    """The budgets in money that are set, and the account's own limit: what is spent, what is left."""
    lines = []
    budgets = (
        ("Your budget today", usage.user_cost_micros, limits.daily_budget_micros_per_user),
        (f"This channel's budget for {month.label}", usage.channel_month_micros, limits.monthly_budget_micros),
        (f"The workspace's budget for {month.label}", usage.workspace_month_micros, limits.workspace_monthly_micros),
    )
    for name, used, allowed in budgets:
        if allowed:
            lines.append(f"• {name}: {usd(used)} of {usd(allowed)} used, {usd(max(0, allowed - used))} left")
    if limits.monthly_budget_micros or limits.workspace_monthly_micros:
        lines.append(f"Monthly budgets reset {month_resets_text(month.end, now, timezone)}.")
    if limits.account_daily_jobs:
        lines.append(
            f"• The Perf account: {usage.account_jobs} of {limits.account_daily_jobs} jobs in the last 24 hours"
        )
    return lines


def quota_status(
    limits: Limits, usage: Usage, day: Day, now: float, timezone: str, month: Day | None = None
) -> Message:
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
    if month is not None:
        lines += _money_status(limits, usage, now, timezone, month)
    source = "set for this channel by an admin" if limits.channel_has_own else "the workspace defaults"
    lines.append(f"These are {source}. {_WHO_CAN_RAISE} `/video quota set off` removes them.")
    return {"response_type": "ephemeral", "text": "\n".join(lines)}


def quota_changed(limits: Limits) -> Message:
    text = (
        f"Done. This channel's daily limits are now: {_limit_text(limits.daily_jobs, 'jobs')}, "
        f"budget {usd(limits.daily_budget_micros) if limits.daily_budget_micros else 'none'}"
        + "."
        + (f" Its monthly budget is {usd(limits.monthly_budget_micros)}." if limits.monthly_budget_micros else "")
        + " `/video quota` shows what is used."
    )
    return {"response_type": "ephemeral", "text": text}


def quota_bad_value(value: str) -> Message:
    shown = f"`{clip(value, 200)}`" if value else "nothing"
    return {
        "response_type": "ephemeral",
        "text": f"I can't set the quota to {shown}. Use a number of jobs (`/video quota set 10`), a dollar budget "
        "(`/video quota set $25`), a monthly one (`/video quota set month $200`, or `month off`), `off` for no "
        "limits, or `default` for the workspace defaults.",
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
        + (f" · not approved {report.not_approved}" if report.not_approved else "")
        + (f" · awaiting approval {report.awaiting_approval}" if report.awaiting_approval else "")
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


def names_pending(message: Message, pending: int) -> Message:
    """An answer given within the ack before `pending` people's names were known: it says they follow."""
    if not pending:
        return message
    note = f"_Looking up {pending} name{'s' if pending != 1 else ''}: this answer updates with them in a moment._"
    if "blocks" in message:
        return {**message, "blocks": [*message["blocks"], {"type": "context", "elements": [mrkdwn(note)]}]}
    return {**message, "text": f"{message.get('text', '')}\n{note}"}


def replacing_the_answer(message: Message) -> Message:
    """The same answer sent again through the command's response_url, in place of the first."""
    return {**message, "replace_original": True}
