"""Every surface videobot shows, rendered once with sample data: each message, answer, form, view and
line a person can read, for the tests that check them in every language (tests/test_languages.py).

A new public message function belongs here too: the test that lists `bot.messages` fails until it is."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot import messages
from bot.domain import workspace_settings
from bot.domain.defaults import Effective, Skipped, Source
from bot.domain.job import CancelOutcome, Decision, Job, JobState
from bot.domain.presets import CHANNEL, PERSON, NameProblem, Preset
from bot.domain.quotas import ChannelNotAllowed, Day, Limits, QuotaExceeded, QuotaLimit, Setting, Usage
from bot.domain.recall import ShowOutcome
from bot.domain.reports import DayReport, PersonUsage
from bot.domain.request import CommandError, ErrorCode, Take, VideoRequest
from bot.messages import FormValues
from tests.fakes.jobs import stored_job

# The person's own words and names: never translated, so written in a script no check mistakes for English.
PROMPT = "嵐の中の灯台、砕ける波"
STYLE = "フィルム風"
NAMES = {"U0ALICE1": "アリス", "U0BOB001": "ボブ"}
NOW = 1_800_000_000.0
ZONE = "Europe/Berlin"


@dataclass(frozen=True)
class Shown:
    """One rendered surface: what it is (`message`, `view`, `errors` or `text`) and what Slack gets."""

    name: str
    kind: str
    payload: Any


def job(state: JobState = JobState.PROCESSING, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "prompt": PROMPT,
        "perf_job_id": "job_1",
        "submitted_at": NOW - 60,
        "progress_percent": 40,
        "eta_seconds": 30,
        "root_ts": "1700000000.000100",
    }
    if state is JobState.FAILED:
        values["error_message"] = "モデルエラー"
    if state is JobState.DELIVERED:
        values.update(completed_at=NOW, video_url="https://perf.example/v/1.mp4", perf_cost_micros=280_000)
    values.update(fields)
    return stored_job(state=state, created_at=NOW - 100, **values)


def _errors() -> list[CommandError]:
    return [
        CommandError(ErrorCode.EMPTY_PROMPT),
        CommandError(ErrorCode.PROMPT_TOO_LONG, given="2400", limit=2000),
        CommandError(ErrorCode.UNKNOWN_OPTION, given="--modle", suggestion="model"),
        CommandError(ErrorCode.UNKNOWN_OPTION, given="--xyz"),
        CommandError(ErrorCode.MISSING_VALUE, given="duration"),
        CommandError(ErrorCode.NOT_A_DEFAULT, given="models"),
        CommandError(ErrorCode.NOT_A_DEFAULT, given="private"),
        CommandError(ErrorCode.UNKNOWN_PRESET, given="予告編", suggestion="reel,short"),
        CommandError(ErrorCode.UNKNOWN_PRESET, given="予告編"),
        CommandError(ErrorCode.BAD_PRESET, given="--preset"),
        CommandError(ErrorCode.REPEATED_OPTION, given="model"),
        CommandError(ErrorCode.STRAY_TEXT, given="xyz"),
        CommandError(ErrorCode.UNKNOWN_MODEL, given="veo3", suggestion="veo-3"),
        CommandError(ErrorCode.UNKNOWN_MODEL, given="zzz"),
        CommandError(ErrorCode.BAD_DURATION, given="-1", model="pika"),
        CommandError(ErrorCode.DURATION_TOO_LONG, given="61", limit=60, model="veo-3"),
        CommandError(ErrorCode.DURATION_TOO_LONG, given="12", limit=10, model="luma-dream-machine", suggestion="veo-3"),
        CommandError(ErrorCode.MODELS_AND_MODEL),
        CommandError(ErrorCode.MODELS_AND_DRAFT),
        CommandError(ErrorCode.MODELS_COUNT, given="1", limit=4),
        CommandError(ErrorCode.MODELS_REPEATED, given="pika"),
        CommandError(ErrorCode.UNKNOWN_RESOLUTION, given="4k"),
        CommandError(ErrorCode.UNKNOWN_ASPECT, given="2:1"),
    ]


def _jobs() -> list[tuple[str, Job]]:
    draft = "--model veo-3 --duration 8 --resolution 1080p --aspect 16:9"
    shown = [(state.value, job(state)) for state in JobState]
    shown += [
        ("queued_place", job(JobState.QUEUED, queue_position=3)),
        ("delivered_link", job(JobState.DELIVERED, delivered_as_link=True, delivery_note="エラー")),
        ("denied", job(JobState.FAILED, approval=Decision.DENIED, approval_by="U0BOB001", approval_note="高すぎ")),
        ("expired", job(JobState.FAILED, approval=Decision.EXPIRED, error_message="24 h")),
        ("withdrawn", job(JobState.CANCELLED, approval=Decision.WITHDRAWN)),
        ("approved", job(JobState.AWAITING_APPROVAL, approval=Decision.APPROVED, approval_by="U0BOB001")),
        ("draft", job(JobState.DELIVERED, full_settings=draft, style=STYLE, prompt=f"{PROMPT}, {STYLE}")),
        ("full", job(JobState.PROCESSING, rerun_of="vb_1", full_of_draft=True, rerun_link="https://x.example/p1")),
        ("remix", job(JobState.DELIVERED, rerun_of="vb_1", remix=True, private=True)),
        ("rerun", job(JobState.PENDING, rerun_of="vb_1")),
        (
            "compared",
            job(JobState.AWAITING_APPROVAL, comparison="vb_1:pika,vb_2:veo-3", comparison_cost_micros=3_000_000),
        ),
    ]
    return shown


def every_surface() -> list[Shown]:
    shown: list[Shown] = []

    def add(name: str, kind: str, built: Any) -> None:
        """`built`: what was rendered, or a message function that takes nothing, to render now."""
        shown.append(Shown(name, kind, built() if callable(built) else built))

    jobs = _jobs()
    for name, each in jobs:
        add(f"root_message/{name}", "message", messages.root_message(each, showcase=True))
        add(f"progress_message/{name}", "message", messages.progress_message(each, running_cap=2))
        add(
            f"details_message/{name}",
            "message",
            messages.details_message(each, [(NOW, "accepted", "")]),
        )
        add(
            f"approval_decided/{name}",
            "message",
            messages.approval_decided(each, limit_micros=2_000_000),
        )
        add(f"upload_title/{name}", "text", messages.upload_title(each))
        add(
            f"show_refused/{name}",
            "message",
            messages.show_refused(ShowOutcome.NO_VIDEO, each.id, each),
        )
    add(
        "progress_message/approval",
        "message",
        messages.progress_message(job(JobState.AWAITING_APPROVAL), approval_limit_micros=2_000_000),
    )
    add("progress_message/queued_uncapped", "message", messages.progress_message(job(JobState.QUEUED)))
    add(
        "progress_message/minutes_left",
        "message",
        messages.progress_message(job(JobState.PROCESSING, eta_seconds=400)),
    )
    add("status_message", "message", messages.status_message([each for _, each in jobs]))
    add("status_message/none", "message", messages.status_message([]))
    for error in _errors():
        add(f"command_error/{error.code}", "message", messages.command_error(error))
        add(f"form_errors/{error.code}", "errors", messages.form_errors(error))
        add(
            f"rerun_refused/{error.code}",
            "message",
            messages.rerun_refused(error, full_version=True),
        )
    add("rerun_refused", "message", messages.rerun_refused(CommandError(ErrorCode.EMPTY_PROMPT)))
    add("help_message", "message", messages.help_message(showcase=True))
    add("help_message/custom_emoji", "message", messages.help_message(rerun_emoji="tada"))
    add("internal_error", "message", messages.internal_error)
    add("models_message", "message", messages.models_message)
    for outcome in CancelOutcome:
        add(f"cancel_result/{outcome}", "message", messages.cancel_result(outcome, "vb_1"))
    add(
        "cancel_result/withdrawn",
        "message",
        messages.cancel_result(CancelOutcome.CANCELLED, "vb_1", jobs[-9][1]),
    )
    add(
        "approval_request",
        "message",
        messages.approval_request(job(JobState.AWAITING_APPROVAL), limit_micros=2_000_000, hours=24),
    )
    add(
        "approval_request/compared",
        "message",
        messages.approval_request(jobs[-1][1], limit_micros=2_000_000, hours=1.5),
    )
    decided = jobs[-6][1]
    for answer in messages.ApprovalAnswer:
        add(f"approval_answer/{answer}", "message", messages.approval_answer(answer, decided))
        add(f"deny_form_refused/{answer}", "errors", messages.deny_form_refused(answer, None))
    add("deny_form", "view", messages.deny_form("vb_1"))
    add("budget_notices", "text", _budget_notices)
    add("month_report", "message", _month_report(yours=False))
    add("month_report/yours", "message", _month_report(yours=True))
    add("defaults_status", "message", messages.defaults_status(_effective(), ("de", True)))
    add("defaults_status/workspace", "message", messages.defaults_status(_effective(), ("en", False)))
    add("language_unknown", "message", messages.language_unknown("xx"))
    add("language_is_personal", "message", messages.language_is_personal)
    add("defaults_changed/mine", "message", messages.defaults_changed(_effective(), mine=True))
    add(
        "defaults_changed/channel",
        "message",
        messages.defaults_changed(_effective(), mine=False, language=("de", True)),
    )
    for mine in (True, False):
        for had_any in (True, False):
            add(
                f"defaults_cleared/{mine}/{had_any}",
                "message",
                messages.defaults_cleared(mine=mine, had_any=had_any),
            )
    add("defaults_admins_only", "message", messages.defaults_admins_only)
    add("defaults_skipped", "message", messages.defaults_skipped(_effective().skipped))
    add("admin_unchecked", "message", messages.admin_unchecked)
    add(
        "video_form",
        "view",
        messages.video_form(
            "C1",
            FormValues(prompt=PROMPT, draft=True),
            place=messages.FormPlace("C1", pick_channel=True, presets=("予告編",)),
        ),
    )
    add("video_form/bad_duration", "view", messages.video_form("C1", FormValues(duration="99")))
    add("remix_form", "view", messages.remix_form(jobs[-5][1]))
    add("remix_form/draft", "view", messages.remix_form(jobs[-5 - 2][1]))
    add("form_channel_missing", "errors", messages.form_channel_missing)
    add("home_view", "view", _home)
    add(
        "home_view/empty",
        "view",
        messages.home_view([], 0, 0, [], "", "12月", messages.HomeSpending(days=[]), []),
    )
    _add_workspaces(add)
    add("step_needs_runner", "text", messages.step_needs_runner)
    add("step_needs_channel", "text", messages.step_needs_channel)
    for state in (JobState.FAILED, JobState.CANCELLED, JobState.UNKNOWN):
        add(f"step_failed/{state}", "text", messages.step_failed(job(state)))
    add("preset_list", "message", messages.preset_list(_presets(), frozenset({"予告編"})))
    add("preset_list/empty", "message", messages.preset_list([], frozenset()))
    for scope in (PERSON, CHANNEL):
        for replaced in (True, False):
            preset = Preset("予告編", scope, {"model": "pika"})
            add(
                f"preset_saved/{scope}/{replaced}",
                "message",
                messages.preset_saved(preset, replaced=replaced, shadows_channel=True),
            )
        for existed in (True, False):
            add(
                f"preset_deleted/{scope}/{existed}",
                "message",
                messages.preset_deleted("予告編", channel=scope == CHANNEL, existed=existed),
            )
    add("preset_name_refused", "message", messages.preset_name_refused("", NameProblem.EMPTY, action="delete"))
    for problem in NameProblem:
        add(f"preset_name_refused/{problem}", "message", messages.preset_name_refused("a b", problem))
    add("preset_empty", "message", messages.preset_empty)
    add("preset_too_many", "message", messages.preset_too_many(20))
    add("presets_admins_only", "message", messages.presets_admins_only)
    for which in QuotaLimit:
        refused = QuotaExceeded(
            which, 3_000_000, 4_000_000, NOW + 3_600 * 30, 2_000_000, (Setting("pika", Decimal("2.5"), 167_500),)
        )
        add(f"quota_refused/{which}", "message", messages.admission_refused(refused, NOW, ZONE))
    add(
        "quota_refused/no_cheaper",
        "message",
        messages.admission_refused(QuotaExceeded(QuotaLimit.USER_BUDGET, 1, 2, NOW + 600, 3), NOW, ZONE),
    )
    add("channel_not_allowed", "message", messages.admission_refused(ChannelNotAllowed(), NOW, ZONE))
    add("channel_not_allowed/direct", "message", messages.channel_not_allowed)
    jobs_refused = QuotaExceeded(QuotaLimit.CHANNEL_JOBS, 10, 10, NOW + 600)
    add("quota_refused/direct", "message", messages.quota_refused(jobs_refused, NOW, ZONE))
    limits = Limits(10, 25_000_000, 5, True, 200_000_000, 500_000_000, 5_000_000, 100)
    usage = Usage(3, 1_200_000, 1, 400_000, 20_000_000, 90_000_000, 7, NOW - 100)
    day = Day(NOW - 3_600, NOW + 3_600 * 20, "2027-01-15")
    month = Day(NOW - 86_400 * 14, NOW + 86_400 * 17, "2027-01")
    add("quota_status", "message", messages.quota_status(limits, usage, day, NOW, ZONE, month))
    add("quota_status/none", "message", messages.quota_status(Limits(0, 0, 0), Usage(), day, NOW, ZONE))
    add("quota_changed", "message", messages.quota_changed(limits))
    add("quota_changed/off", "message", messages.quota_changed(Limits(0, 0, 0)))
    add("quota_bad_value", "message", messages.quota_bad_value("十"))
    add("quota_bad_value/empty", "message", messages.quota_bad_value(""))
    add("quota_admins_only", "message", messages.quota_admins_only)
    add("quota_admin_unchecked", "message", messages.quota_admin_unchecked)
    add("usage_report", "message", messages.usage_report(_report(), NAMES, limits, usage, day, NOW, ZONE))
    add("daily_report", "message", messages.daily_report(_report(), NAMES))
    add("daily_report/workspace", "message", messages.daily_report(_report(), NAMES, workspace=True))
    add("names_pending", "message", messages.names_pending(messages.daily_report(_report(), NAMES), 2))
    add("month_resets_text", "text", messages.month_resets_text(month.end, NOW, ZONE))
    add("show_message", "message", messages.show_message(jobs[-5][1], "https://x.example/p1", "U0BOB001"))
    add("show_message/link", "message", messages.show_message(jobs[-5 - 3][1], None, "U0BOB001"))
    for show in ShowOutcome:
        add(f"show_refused/{show}", "message", messages.show_refused(show, "vb_1", jobs[0][1]))
    add(
        "history_message",
        "message",
        messages.history_message([each for _, each in jobs], ("灯台",), {"vb_x": "https://x.example/p1"}),
    )
    add("history_message/one", "message", messages.history_message([jobs[0][1]], (), {}))
    add("history_message/none", "message", messages.history_message([], ("灯台",), {}))
    add("history_message/none_at_all", "message", messages.history_message([], (), {}))
    add("history_too_many_words", "message", messages.history_too_many_words)
    delivered = job(JobState.DELIVERED)
    add("showcase_post", "message", messages.showcase_post(delivered, "U0BOB001", "https://x.example/p1"))
    add("shared_post", "message", messages.shared_post(job(JobState.DELIVERED, private=True)))
    for what in (
        "showcased",
        "already_showcased",
        "shared",
        "already_shared",
        "not_yours",
        "unfinished",
        "no_showcase",
        "failed",
    ):
        add(
            f"take_answer/{what}",
            "message",
            messages.take_answer(what, channel="C0SHOW01", link="https://x.example/p2"),
        )
    add("take_answer/nowhere", "message", messages.take_answer("shared"))
    add(
        "comparison_capped",
        "message",
        messages.comparison_capped([Take(VideoRequest(PROMPT, "pika", Decimal(4)), Decimal(8))], _effective().skipped),
    )
    add("remix_refused/gone", "message", messages.remix_refused(True))
    add("remix_refused", "message", messages.remix_refused(False))
    add("remix_unavailable", "message", messages.remix_unavailable)
    add("rerun_unavailable", "message", messages.rerun_unavailable)
    for reason in (
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        "restricted_action",
        "fatal_error",
    ):
        for sent in (True, False):
            add(
                f"cannot_post_in_channel/{reason}/{sent}",
                "message",
                messages.cannot_post_in_channel(reason, sent_to_perf=sent),
            )
    return shown


def _budget_notices() -> list[Any]:
    return [
        messages.budget_notice(messages.BudgetNotice(whose, period, "2027-01", 8_500_000, 10_000_000, "今日"))
        for whose in ("channel", "workspace")
        for period in ("day", "month")
    ]


def _month_report(*, yours: bool) -> Any:
    total = messages.Spending("", 12, 8_400_000)
    channels = [messages.Spending("C0DESIGN", 10, 7_000_000), messages.Spending("C0OTHER1", 2, 1_400_000)]
    people = [messages.Spending("U0ALICE1", 11, 8_000_000), messages.Spending("U0BOB001", 1, 400_000)]
    models = [messages.Spending("veo-3", 12, 8_400_000)]
    budget = messages.MonthBudget("今日", 100_000_000, 1_000_000)
    return messages.month_report(
        "2027-01", total, channels, people, models, NAMES, budget, 3, yours=total if yours else None
    )


def _effective() -> Effective:
    sources = {"model": Source.YOURS, "duration": Source.CHANNEL, "aspect": Source.PERF, "resolution": Source.TYPED}
    sources["style"] = Source.PRESET
    skipped = tuple(
        Skipped(source, "duration", "90", CommandError(ErrorCode.DURATION_TOO_LONG, "90", limit=60, model="veo-3"))
        for source in Source
    )
    return Effective(VideoRequest(PROMPT, "veo-3", Decimal(8), style=STYLE), sources, skipped)


def _presets() -> list[Preset]:
    return [
        Preset("予告編", PERSON, {"model": "pika", "style": STYLE}),
        Preset("予告編", CHANNEL, {"duration": "3"}),
        Preset("空", PERSON, {}),
    ]


def _report() -> DayReport:
    people = (PersonUsage("U0ALICE1", 3, 900_000), PersonUsage("U0BOB001", 1, 300_000))
    by_state = {"delivered": 3, "failed": 1}
    return DayReport("2027-01-15", 6, 3, 1, 1, by_state, 1_200_000, people, "veo-3", 2, 1, 1)


def _home() -> Any:
    jobs = [each for _, each in _jobs()]
    days = [(date(2027, 1, 1 + n), n * 100_000) for n in range(14)]
    budgets = [
        messages.BudgetUse(messages.budget_name(whose, "C0DESIGN"), 4_000_000, 10_000_000)
        for whose in ("workspace", "you", "channel")
    ]
    spending = messages.HomeSpending(days, days, budgets)
    showcased = [messages.Showcased(jobs[0], "U0BOB001", "C0SHOW01", "1700000000.000200")]
    usage = [messages.ChannelUsage("C0DESIGN", 3, 900_000, 10), messages.ChannelUsage("C0OTHER1", 1, 100_000, 0)]
    return messages.home_view(jobs, 400_000, 8_000_000, usage, "https://acme.slack.com", "1月", spending, showcased)


def _page_text(page: str) -> str:
    """What a person reads on an install page: its text without the markup and the style sheet."""
    page = re.sub(r"<code>(.*?)</code>", r"`\1`", re.sub(r"(?s)<style>.*?</style>", "", page))  # code as in Slack
    return html.unescape(re.sub(r"<[^>]*>", " ", page))


SETTING_VALUES: dict[str, Any] = {
    "channel-jobs": 10,
    "person-jobs": 1,
    "channel-budget": 5_000_000,
    "person-budget": 2_500_000,
    "monthly-budget": 500_000_000,
    "approval-over": 2_000_000,
    "approval-channel": "C0APPROVE",
    "allowed-channels": ("C0DESIGN", "C0OTHER1"),
    "retention-days": 30,
}


# A workspace's own settings as `/video admin` lists them: (name, value, set by the workspace), each setting
# with a value and without one (no limit, nobody, every channel).
SETTINGS_ROWS: list[tuple[str, Any, bool]] = [
    *((name, value, True) for name, value in SETTING_VALUES.items()),
    *((name, type(value)(), False) for name, value in SETTING_VALUES.items()),
]


def _add_workspaces(add: Callable[[str, str, Any], None]) -> None:
    """Many workspaces (issue 25): the install pages, a workspace's Perf key and its own settings."""
    add("install_success_page", "text", _page_text(messages.install_success_page("ワークスペース", org_wide=False)))
    add("install_success_page/unnamed", "text", _page_text(messages.install_success_page("", org_wide=False)))
    add("install_success_page/org", "text", _page_text(messages.install_success_page("組織", org_wide=True)))
    add("install_success_page/org_unnamed", "text", _page_text(messages.install_success_page("", org_wide=True)))
    for reason in ("access_denied", "invalid_browser", "invalid_state", "missing_code", "invalid_code",
                   "storage_error", "something_new"):  # fmt: skip
        add(f"install_failure_page/{reason}", "text", _page_text(messages.install_failure_page(reason, "/install")))
    add("not_installed", "message", messages.not_installed)
    add("no_perf_key", "message", messages.no_perf_key)
    sections = {
        "set": messages.key_section(ends_in="abcd", set_by="U0ALICE1", set_at=NOW, operator_pays=False, can_set=True),
        "set_undated": messages.key_section(
            ends_in="abcd", set_by="アリス", set_at=None, operator_pays=False, can_set=False
        ),
        "operator_pays": messages.key_section(ends_in=None, set_by=None, set_at=None, operator_pays=True, can_set=True),
        "nobody_pays": messages.key_section(ends_in=None, set_by=None, set_at=None, operator_pays=False, can_set=False),
    }
    for name, blocks in sections.items():
        add(f"key_section/{name}", "view", messages.home_view([], 0, 0, None, "", "1月", None, None, blocks))
    add("perf_key_form", "view", messages.perf_key_form)
    for name in ("KEY_EMPTY", "KEY_MALFORMED", "KEY_REFUSED", "KEY_NOT_CHECKED", "KEY_NOT_ALLOWED", "KEY_NO_STORE"):
        add(f"perf_key_errors/{name}", "errors", messages.perf_key_errors(getattr(messages, name)))
    for admin in (True, False):
        add(
            f"workspace_settings_message/{admin}",
            "message",
            messages.workspace_settings_message(SETTINGS_ROWS, is_admin=admin),
        )
    add("workspace_settings_help", "text", messages.workspace_settings_help(SETTINGS_ROWS))
    for name, value in SETTING_VALUES.items():
        add(f"workspace_setting_changed/{name}", "message", messages.workspace_setting_changed(name, value))
        add(
            f"workspace_setting_changed/{name}/removed",
            "message",
            messages.workspace_setting_changed(name, type(value)(), removed=True),
        )
    for name in ("ADMIN_ONLY", "ADMIN_UNAVAILABLE", "NOBODY_TO_ASK"):
        add(f"workspace_setting_refused/{name}", "message", messages.workspace_setting_refused(getattr(messages, name)))
    add("unknown_setting", "message", messages.unknown_setting("ジョブ", ["channel-jobs", "monthly-budget"]))
    for expected in workspace_settings.Expected:
        add(
            f"bad_setting_value/{expected}",
            "message",
            messages.bad_setting_value("retention-days", expected, most=400),
        )
