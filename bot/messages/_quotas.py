"""Who may start a job, and how much: the refusals (a channel not switched on, a quota used up),
`/video quota`, and the day's reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_time

from bot.domain.quotas import ChannelNotAllowed, Day, Limits, QuotaExceeded, QuotaLimit, Usage
from bot.domain.reports import DayReport
from bot.messages._i18n import N_, _, _n, babel_locale, day_and_month, listing, number, slack_date
from bot.messages._phrases import and_more, state_name
from bot.messages._text import (
    MAX_TEXT,
    Message,
    clip,
    escape,
    listed_in,
    mrkdwn,
    private_answer,
    usd,
)


def _in(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return _("{minutes} min", minutes=number(minutes))
    return _("{hours} h {minutes} min", hours=number(minutes // 60), minutes=number(minutes % 60))


def resets_text(resets_at: float, now: float, timezone: str) -> str:
    return _("at midnight {timezone}, in {wait}", timezone=timezone, wait=_in(resets_at - now))


def _jobs(count: int) -> str:
    return _n("{count} job", "{count} jobs", count)


_WHO_CAN_RAISE = N_(
    "A workspace admin can change this channel's limits with `/video quota set 30` or `/video quota set $50`."
)


def quota_refused(exc: QuotaExceeded, now: float, timezone: str) -> Message:
    resets = resets_text(exc.resets_at, now, timezone)
    match exc.which:
        case QuotaLimit.CHANNEL_JOBS:
            text = _(
                "This channel has used its {jobs} for today ({used} started), so nothing was "
                "started. The quota resets {resets}. {who}",
                jobs=_jobs(exc.allowed),
                used=number(exc.used),
                resets=resets,
                who=_(_WHO_CAN_RAISE),
            )
        case QuotaLimit.CHANNEL_BUDGET:
            text = _money_refused(exc, _("this channel past its daily budget"), resets, _(_WHO_CAN_RAISE))
        case QuotaLimit.USER_JOBS:
            text = _(
                "You have started your {jobs} for today, so nothing was started. Your limit resets "
                "{resets}. Whoever runs videobot sets it (`VIDEOBOT_DAILY_JOBS_PER_USER`).",
                jobs=_jobs(exc.allowed),
                resets=resets,
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
    left = (
        _n("in {count} day", "in {count} days", round(days))
        if days >= 1.5
        else _("in {wait}", wait=_in(resets_at - now))
    )
    return _("on {date} at midnight {timezone}, {left}", date=day_and_month(local.date()), timezone=timezone, left=left)


def _cheaper_text(exc: QuotaExceeded) -> str:
    """The settings that would fit what is left, as options to type: a shorter duration, another model."""
    if not exc.cheaper:
        return _("No shorter or cheaper setting fits what is left.")
    options = [
        f"`--model {s.model} --duration {_option_seconds(s.duration_seconds)}` "
        + _("(est. {cost})", cost=usd(s.cost_micros))
        for s in exc.cheaper
    ]
    return _("It would fit as {options}.", options=listing(options, style="or"))


def _option_seconds(value: Decimal) -> str:
    """Seconds as the option takes them, whatever the language: `2.5`, never `2,5`."""
    return f"{value.normalize():f}" if value != value.to_integral_value() else str(int(value))


def _money_refused(exc: QuotaExceeded, past: str, resets: str, who: str) -> str:
    return _(
        "This job (est. {asked}) would take {past}: {used} of {allowed} used, "
        "{left} left, so nothing was started. {cheaper} The budget resets {resets}. {who}",
        asked=usd(exc.asked),
        past=past,
        used=usd(exc.used),
        allowed=usd(exc.allowed),
        left=usd(exc.left),
        cheaper=_cheaper_text(exc),
        resets=resets,
        who=who,
    )


def _budget_refused(exc: QuotaExceeded, now: float, timezone: str) -> str:
    match exc.which:
        case QuotaLimit.USER_BUDGET:
            who = _("Whoever runs videobot sets it (`VIDEOBOT_DAILY_BUDGET_USD_PER_USER`).")
            resets = resets_text(exc.resets_at, now, timezone)
            return _money_refused(exc, _("you past your daily budget"), resets, who)
        case QuotaLimit.CHANNEL_MONTH_BUDGET:
            who = _("A workspace admin can change it with `/video quota set month $300`.")
            resets = month_resets_text(exc.resets_at, now, timezone)
            return _money_refused(exc, _("this channel past its monthly budget"), resets, who)
        case QuotaLimit.WORKSPACE_MONTH_BUDGET:
            who = _("Whoever runs videobot sets it (`VIDEOBOT_MONTHLY_BUDGET_USD`).")
            resets = month_resets_text(exc.resets_at, now, timezone)
            return _money_refused(exc, _("the workspace past its monthly budget"), resets, who)
        case _:
            free_at = _local(exc.resets_at, timezone)
            # Each reader sees the time in their own zone (Slack's date token), the workspace's where it can't.
            at = slack_date(
                exc.resets_at, "{time}", f"{format_time(free_at, 'short', locale=babel_locale())} {timezone}"
            )
            return _(
                "The Perf account behind videobot makes at most {jobs} a day, and {used} were "
                "started in the last 24 hours, so nothing was started (Perf would refuse it). The next one is free "
                "at {at}, in {wait}. Perf's docs don't say when its day "
                "starts, so videobot counts the last 24 hours. Whoever runs videobot sets this to the account's "
                "plan (`VIDEOBOT_ACCOUNT_DAILY_JOBS`; Free: 5, Pro: 100).",
                jobs=_jobs(exc.allowed),
                used=number(exc.used),
                at=at,
                wait=_in(exc.resets_at - now),
            )


def channel_not_allowed() -> Message:
    return private_answer(
        _(
            "videobot isn't switched on for this channel, so nothing was started. Ask whoever runs videobot "
            "to add it to `VIDEOBOT_ALLOWED_CHANNELS`, or use one of the channels it works in."
        )
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
        (_("Your budget today"), usage.user_cost_micros, limits.daily_budget_micros_per_user),
        (
            _("This channel's budget for {month}", month=month.label),
            usage.channel_month_micros,
            limits.monthly_budget_micros,
        ),
        (
            _("The workspace's budget for {month}", month=month.label),
            usage.workspace_month_micros,
            limits.workspace_monthly_micros,
        ),
    )
    for name, used, allowed in budgets:
        if allowed:
            lines.append(
                _(
                    "• {name}: {used} of {allowed} used, {left} left",
                    name=name,
                    used=usd(used),
                    allowed=usd(allowed),
                    left=usd(max(0, allowed - used)),
                )
            )
    if limits.monthly_budget_micros or limits.workspace_monthly_micros:
        lines.append(_("Monthly budgets reset {resets}.", resets=month_resets_text(month.end, now, timezone)))
    if limits.account_daily_jobs:
        lines.append(
            _n(
                "• The Perf account: {used} of {count} job in the last 24 hours",
                "• The Perf account: {used} of {count} jobs in the last 24 hours",
                limits.account_daily_jobs,
                used=number(usage.account_jobs),
            )
        )
    return lines


def quota_status(
    limits: Limits, usage: Usage, day: Day, now: float, timezone: str, month: Day | None = None
) -> Message:
    lines = [_("*Today's limits in this channel* ({day}, {timezone}):", day=day.label, timezone=timezone)]
    if limits.daily_jobs:
        left = max(0, limits.daily_jobs - usage.channel_jobs)
        lines.append(
            _(
                "• Jobs: {used} of {allowed} used, {left} left",
                used=number(usage.channel_jobs),
                allowed=number(limits.daily_jobs),
                left=number(left),
            )
        )
    else:
        lines.append(_("• Jobs: {used} started, no limit", used=number(usage.channel_jobs)))
    if limits.daily_budget_micros:
        left_micros = max(0, limits.daily_budget_micros - usage.channel_cost_micros)
        lines.append(
            _(
                "• Budget: {used} of {allowed} used, {left} left",
                used=usd(usage.channel_cost_micros),
                allowed=usd(limits.daily_budget_micros),
                left=usd(left_micros),
            )
        )
    else:
        lines.append(_("• Cost so far: {cost}, no budget set", cost=usd(usage.channel_cost_micros)))
    if limits.daily_jobs_per_user:
        lines.append(
            _n(
                "• You: {used} of {count} job used today (all channels)",
                "• You: {used} of {count} jobs used today (all channels)",
                limits.daily_jobs_per_user,
                used=number(usage.user_jobs),
            )
        )
    lines.append(_("Quotas reset {resets}.", resets=resets_text(day.end, now, timezone)))
    if month is not None:
        lines += _money_status(limits, usage, now, timezone, month)
    if limits.channel_has_own:
        source = _("These are set for this channel by an admin.")
    else:
        source = _("These are the workspace defaults.")
    lines.append(f"{source} {_(_WHO_CAN_RAISE)} " + _("`/video quota set off` removes them."))
    return {"response_type": "ephemeral", "text": "\n".join(lines)}


def quota_changed(limits: Limits) -> Message:
    jobs = _n("{count} job", "{count} jobs", limits.daily_jobs) if limits.daily_jobs else _("no limit")
    budget = usd(limits.daily_budget_micros) if limits.daily_budget_micros else _("none")
    text = _("Done. This channel's daily limits are now: {jobs}, budget {budget}.", jobs=jobs, budget=budget)
    if limits.monthly_budget_micros:
        text += " " + _("Its monthly budget is {budget}.", budget=usd(limits.monthly_budget_micros))
    text += " " + _("`/video quota` shows what is used.")
    return {"response_type": "ephemeral", "text": text}


def quota_bad_value(value: str) -> Message:
    shown = f"`{clip(value, 200)}`" if value else _("nothing")
    return {
        "response_type": "ephemeral",
        "text": _(
            "I can't set the quota to {value}. Use a number of jobs (`/video quota set 10`), a dollar budget "
            "(`/video quota set $25`), a monthly one (`/video quota set month $200`, or `month off`), `off` for no "
            "limits, or `default` for the workspace defaults.",
            value=shown,
        ),
    }


def quota_admins_only() -> Message:
    return {
        "response_type": "ephemeral",
        "text": _(
            "Only workspace admins and owners can change a channel's quota. `/video quota` shows it; "
            "ask an admin if this channel needs more."
        ),
    }


def quota_admin_unchecked() -> Message:
    return {
        "response_type": "ephemeral",
        "text": _(
            "I couldn't check with Slack whether you are an admin, so nothing was changed. Try again in a minute."
        ),
    }


def _report_lines(report: DayReport, names: Mapping[str, str], room: int) -> list[str]:
    """The totals, then as many people as fit the `room` left for these lines; the rest are counted."""
    counts = _(
        "• Jobs: {jobs} · delivered {delivered} · failed {failed}",
        jobs=number(report.jobs),
        delivered=number(report.delivered),
        failed=number(report.failed),
    )
    if report.not_approved:
        counts += _(" · not approved {count}", count=number(report.not_approved))
    if report.awaiting_approval:
        counts += _(" · awaiting approval {count}", count=number(report.awaiting_approval))
    if report.running:
        counts += _(" · still running {count}", count=number(report.running))
    lines = [counts, _("• Cost: {cost}", cost=usd(report.cost_micros))]
    if report.busiest_model:
        lines.append(_("• Busiest model: {model}", model=report.busiest_model))
    if report.people:
        # Names as plain text: a report must not ping everybody who made a video.
        people = [
            f"{escape(names.get(p.user_id, p.user_id))} ({_jobs(p.jobs)}, {usd(p.cost_micros)})" for p in report.people
        ]
        by = _("• By: ")
        room -= len("\n".join(lines)) + len(by) + 1
        lines.append(by + listed_in(people, room, ", ", and_more))
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
    by_state = sorted(report.by_state.items())
    states = ", ".join(f"{state_name(state)} {number(count)}" for state, count in by_state) or _("none")
    head = _("*videobot in this channel today* ({day}, {timezone})", day=day.label, timezone=timezone)
    tail = [_("• By state: {states}", states=states)]
    if limits.daily_jobs:
        tail.append(
            _n(
                "• Left today: {left} of {count} job",
                "• Left today: {left} of {count} jobs",
                limits.daily_jobs,
                left=number(max(0, limits.daily_jobs - usage.channel_jobs)),
            )
        )
    if limits.daily_budget_micros:
        left = max(0, limits.daily_budget_micros - usage.channel_cost_micros)
        tail.append(_("• Budget left: {left} of {allowed}", left=usd(left), allowed=usd(limits.daily_budget_micros)))
    tail.append(_("Resets {resets}.", resets=resets_text(day.end, now, timezone)))
    room = MAX_TEXT - len(head) - len("\n".join(tail)) - 2
    return {"response_type": "ephemeral", "text": "\n".join([head, *_report_lines(report, names, room), *tail])}


def daily_report(report: DayReport, names: Mapping[str, str], *, workspace: bool = False) -> Message:
    if workspace:
        title = _n(
            "📊 videobot across {count} channel on {day}",
            "📊 videobot across {count} channels on {day}",
            report.channels,
            day=report.day,
        )
    else:
        title = _("📊 videobot here on {day}", day=report.day)
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
    note = _n(
        "_Looking up {count} name: this answer updates with it in a moment._",
        "_Looking up {count} names: this answer updates with them in a moment._",
        pending,
    )
    if "blocks" in message:
        return {**message, "blocks": [*message["blocks"], {"type": "context", "elements": [mrkdwn(note)]}]}
    return {**message, "text": f"{message.get('text', '')}\n{note}"}


def replacing_the_answer(message: Message) -> Message:
    """The same answer sent again through the command's response_url, in place of the first."""
    return {**message, "replace_original": True}
