"""A workspace's own settings (issue 25): which of the operator's settings its admins may change, how a value
reads, and the settings that result. Pure.

The operator's environment gives the defaults (`Settings`); a workspace's admins override some of them
with `/video admin set NAME VALUE` (stored as text by storage/workspaces.py). `effective` is the one
resolver: the operator's settings with the workspace's overrides laid over them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.settings import MIN_RETENTION_DAYS, Settings

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")


class Expected(StrEnum):
    """What a setting's value must be (bot.messages says it in words)."""

    COUNT = "count"  # a whole number of jobs, 0 for no limit
    DOLLARS = "dollars"  # an amount in dollars, 0 for no limit
    DOLLARS_RANGE = "dollars_range"  # an amount between 0 and 1,000,000 dollars
    CHANNELS = "channels"  # channels separated by commas, or `all`
    CHANNEL = "channel"  # one channel, or `none`
    TIME = "time"  # a time of day, HH:MM
    TIMEZONE = "timezone"  # an IANA time zone name
    DAYS = "days"  # a number of days, at least MIN_RETENTION_DAYS, or 0 for the operator's
    DAYS_UP_TO = "days_up_to"  # the same, at most the operator's retention (BadValue.most)


class BadValue(ValueError):
    """A value that does not fit its setting: `expected` says what would (the message, in English, is for
    logs and the operator's command line)."""

    def __init__(self, expected: Expected, message: str, *, most: int = 0) -> None:
        super().__init__(message)
        self.expected = expected
        self.most = most  # DAYS_UP_TO: the most it may be


def _count(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 1_000_000:
        raise BadValue(Expected.COUNT, "a whole number of jobs, 0 for no limit (such as 20)")
    return int(text)


def _dollars(text: str) -> int:
    try:
        amount = Decimal(text.strip().lstrip("$").strip())
    except InvalidOperation:
        raise BadValue(Expected.DOLLARS, "an amount in dollars, 0 for no limit (such as 25 or 12.50)") from None
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise BadValue(Expected.DOLLARS_RANGE, "an amount between 0 (no limit) and 1000000 dollars")
    return int(amount * 1_000_000)


def _channels(text: str) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(c.strip().strip("<>#").split("|")[0] for c in text.split(",") if c.strip()))
    if text.strip().lower() in ("all", "every", "any"):
        return ()
    for channel in ids:
        if not _CHANNEL_ID.match(channel):
            raise BadValue(
                Expected.CHANNELS, "channels (#design, or IDs such as C0123ABCD) separated by commas, or `all`"
            )
    return ids


def _channel(text: str) -> str:
    if text.strip().lower() in ("none", "off", "-"):
        return ""
    ids = _channels(text)
    if len(ids) != 1:
        raise BadValue(Expected.CHANNEL, "one channel (#approvals, or an ID such as C0123ABCD), or `none`")
    return ids[0]


def _clock_time(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*([01]?\d|2[0-3])[:.h]([0-5]\d)\s*", text)
    if match is None:
        raise BadValue(Expected.TIME, "a time of day as HH:MM, 24-hour (such as 09:00 or 17:30)")
    return int(match.group(1)), int(match.group(2))


def _timezone(text: str) -> str:
    name = text.strip()
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise BadValue(Expected.TIMEZONE, "a time zone name such as Europe/Paris, America/New_York or UTC") from None
    return name


# The most days a workspace may keep where the operator keeps everything (as VIDEOBOT_RETENTION_DAYS allows).
MAX_RETENTION_DAYS = 100_000


def _days(text: str) -> int:
    """A workspace's retention: 0 (the operator's), or MIN_RETENTION_DAYS days or more."""
    days = text.strip()
    if not days.isdigit() or not (int(days) == 0 or MIN_RETENTION_DAYS <= int(days) <= MAX_RETENTION_DAYS):
        raise BadValue(
            Expected.DAYS, f"a number of days, at least {MIN_RETENTION_DAYS} (such as 90), or 0 for the operator's"
        )
    return int(days)


def _days_under(settings: Settings, text: str) -> int:
    """The window a workspace's `text` gives under the operator's `settings`: 0 is the operator's window; a
    workspace may only shorten the operator's (who pays for the disk) and never below a week (a report claim
    must outlive its day), and where the operator keeps everything (0) it may choose any window of a week or
    more. BadValue saying the bounds that apply."""
    operator = settings.retention_days
    try:
        days = _days(text)
    except BadValue:
        if not operator:
            raise
        days = -1
    if days == 0:
        return operator
    if operator and not MIN_RETENTION_DAYS <= days <= operator:
        raise BadValue(
            Expected.DAYS_UP_TO,
            f"a number of days from {MIN_RETENTION_DAYS} to {operator}, or 0 for the operator's",
            most=operator,
        )
    return days


@dataclass(frozen=True)
class Overridable:
    name: str  # as typed after `/video admin set`
    field: str  # the Settings field it replaces
    env: str  # the operator's setting it overrides
    parse: Callable[[str], Any]
    # Where the operator's settings bound the value: the value that applies under them (BadValue where they
    # do not allow it), in place of `parse`.
    parse_under: Callable[[Settings, str], Any] | None = None


OVERRIDABLE: dict[str, Overridable] = {
    o.name: o
    for o in (
        Overridable(
            "channel-jobs",
            "daily_jobs_per_channel",
            "VIDEOBOT_DAILY_JOBS_PER_CHANNEL",
            _count,
        ),
        Overridable(
            "person-jobs",
            "daily_jobs_per_user",
            "VIDEOBOT_DAILY_JOBS_PER_USER",
            _count,
        ),
        Overridable(
            "channel-budget",
            "daily_budget_micros_per_channel",
            "VIDEOBOT_DAILY_BUDGET_USD_PER_CHANNEL",
            _dollars,
        ),
        Overridable(
            "person-budget",
            "daily_budget_micros_per_user",
            "VIDEOBOT_DAILY_BUDGET_USD_PER_USER",
            _dollars,
        ),
        Overridable(
            "monthly-budget",
            "monthly_budget_micros",
            "VIDEOBOT_MONTHLY_BUDGET_USD",
            _dollars,
        ),
        Overridable(
            "approval-over",
            "approval_over_micros",
            "VIDEOBOT_APPROVAL_OVER_USD",
            _dollars,
        ),
        Overridable(
            "approval-channel",
            "approval_channel",
            "VIDEOBOT_APPROVAL_CHANNEL",
            _channel,
        ),
        Overridable(
            "allowed-channels",
            "allowed_channels",
            "VIDEOBOT_ALLOWED_CHANNELS",
            _channels,
        ),
        # The daily report (issue 25): with many workspaces the operator's VIDEOBOT_REPORT_CHANNEL names a
        # channel of no workspace in particular, so a workspace-wide summary goes only where its admins say.
        Overridable(
            "report-channel",
            "report_channel",
            "VIDEOBOT_REPORT_CHANNEL",
            _channel,
        ),
        Overridable(
            "report-time",
            "report_time",
            "VIDEOBOT_REPORT_TIME",
            _clock_time,
        ),
        Overridable(
            "timezone",
            "timezone",
            "VIDEOBOT_TIMEZONE",
            _timezone,
        ),
        # Retention (docs/operating/retention.md): a workspace may keep its detail for less time than the
        # operator does, never more, and never less than a week.
        Overridable(
            "retention-days",
            "retention_days",
            "VIDEOBOT_RETENTION_DAYS",
            _days,
            _days_under,
        ),
    )
}


def parse(name: str, text: str, settings: Settings | None = None) -> Any:
    """The typed value of `text` for the setting `name` (with the operator's `settings`, the value that
    applies under them); BadValue saying what would fit, or KeyError."""
    known = OVERRIDABLE[name]
    return known.parse(text) if settings is None or known.parse_under is None else known.parse_under(settings, text)


def own_retention_days(settings: Settings, text: str | None) -> int:
    """The retention that applies to a workspace whose `retention-days` is `text` (None: not set; a value
    that no longer fits, the operator's shortened since: the operator's)."""
    if text is None:
        return settings.retention_days
    return int(effective(settings, {"retention-days": text}).retention_days)


def effective(settings: Settings, overrides: Mapping[str, str]) -> Settings:
    """The operator's settings with a workspace's overrides laid over them; a stored value that no longer
    reads (a setting renamed or narrowed since) is left out, the operator's default holding."""
    changes: dict[str, Any] = {}
    for name, text in overrides.items():
        known = OVERRIDABLE.get(name)
        if known is None:
            continue
        try:
            changes[known.field] = parse(name, text, settings)
        except BadValue:
            continue
    return dataclasses.replace(settings, **changes) if changes else settings


def needs_someone_to_ask(settings: Settings) -> bool:
    """An approval limit with nobody to ask (no approvers' channel, no VIDEOBOT_APPROVERS): refused, as the
    operator's configuration refuses it."""
    return bool(settings.approval_over_micros) and not (settings.approval_channel or settings.approvers)
