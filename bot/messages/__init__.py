"""Everything videobot says in Slack: text, Block Kit and the escaping that keeps user text inert.

Callers use only this facade (`from bot import messages`); the modules behind it are private and split by
where the words appear, so a change to one surface is read and reviewed apart from the others:

- _thread: a job's thread (root, progress, upload) and what is said privately when it can't start or rerun;
- _answers: the answers to `/video help`, `models`, `status`, `cancel` and the Details button;
- _quotas: who may start a job and how much, `/video quota`, and the day's reports;
- _budgets: budgets in money beyond a refusal: the 80% notice, `/video report month`;
- _form: the modal a bare `/video` opens;
- _home: the App Home tab;
- _approvals: approval for expensive jobs (the request an approver gets, decided, the denial form);
- _defaults: `/video defaults`, and the note when a default could not apply;
- _presets: `/video preset list | save | delete`;
- _takes: a take in the showcase channel, a private take shared;
- _install: the install pages in the browser (many workspaces), and the answer where nothing is installed;
- _recall: `/video show` (a finished job posted again) and `/video history`;
- _phrases: the wording several surfaces share (a job's one-line status and settings, command errors);
- _text: Message, Block Kit's limits, escaping and clipping, and the plain-text fallback;
- _i18n: the language being spoken (`speaking`), the catalogues in locales/, and Babel's formatting.

The surfaces import only _phrases and _text, never each other (the `bot.messages` contract in pyproject.toml).
"""

from __future__ import annotations

from bot.domain.perf_keys import NoPerfKey
from bot.domain.quotas import ChannelNotAllowed, QuotaExceeded
from bot.messages._answers import (
    STEP_NEEDS_RUNNER,
    cancel_result,
    details_message,
    help_message,
    internal_error,
    models_message,
    status_message,
)
from bot.messages._approvals import (
    APPROVE_ACTION_ID,
    DENY_ACTION_ID,
    DENY_CALLBACK_ID,
    ApprovalAnswer,
    approval_answer,
    approval_decided,
    approval_request,
    deny_form,
    deny_form_refused,
    deny_form_values,
)
from bot.messages._budgets import BudgetNotice, MonthBudget, Spending, budget_notice, month_report
from bot.messages._defaults import (
    defaults_admins_only,
    defaults_changed,
    defaults_cleared,
    defaults_skipped,
    defaults_status,
    language_is_personal,
    language_unknown,
)
from bot.messages._form import (
    FORM_CALLBACK_ID,
    FORM_DRAFT_ACTION_ID,
    FORM_DURATION_ACTION_ID,
    FORM_MODEL_ACTION_ID,
    FORM_PRESET_ACTION_ID,
    GLOBAL_SHORTCUT_ID,
    MESSAGE_SHORTCUT_ID,
    FormPlace,
    FormValues,
    form_channel_missing,
    form_cost_text,
    form_errors,
    form_place,
    form_refused,
    form_values,
    preset_values,
    remix_form,
    video_form,
)
from bot.messages._home import (
    HOME_NEW_VIDEO_ACTION_ID,
    BudgetUse,
    ChannelUsage,
    HomeSpending,
    Showcased,
    home_view,
    message_link,
)
from bot.messages._i18n import (
    configure,
    language,
    language_name,
    resolve,
    shipped,
    slack_locale,
    speaking,
    supported,
    workspace_language,
)
from bot.messages._install import install_failure_page, install_success_page, not_installed
from bot.messages._keys import (
    ADMIN_ONLY,
    ADMIN_UNAVAILABLE,
    HOW_TO_ADD_A_KEY,
    KEY_EMPTY,
    KEY_MALFORMED,
    KEY_NO_STORE,
    KEY_NOT_ALLOWED,
    KEY_NOT_CHECKED,
    KEY_REFUSED,
    NOBODY_TO_ASK,
    PERF_KEY_ACTION_ID,
    PERF_KEY_BLOCK_ID,
    PERF_KEY_CALLBACK_ID,
    PERF_KEY_INPUT_ID,
    bad_setting_value,
    key_section,
    no_perf_key,
    perf_key_errors,
    perf_key_form,
    unknown_setting,
    workspace_setting_changed,
    workspace_setting_refused,
    workspace_settings_help,
    workspace_settings_message,
)
from bot.messages._phrases import admin_unchecked, command_error, emoji, ordinal, settings_line
from bot.messages._presets import (
    preset_deleted,
    preset_empty,
    preset_list,
    preset_name_refused,
    preset_saved,
    preset_too_many,
    presets_admins_only,
)
from bot.messages._quotas import (
    admission_refused as _quota_refused,
)
from bot.messages._quotas import (
    channel_not_allowed,
    daily_report,
    month_resets_text,
    names_pending,
    quota_admin_unchecked,
    quota_admins_only,
    quota_bad_value,
    quota_changed,
    quota_refused,
    quota_status,
    replacing_the_answer,
    resets_text,
    usage_report,
)
from bot.messages._recall import history_message, history_too_many_words, show_message, show_refused
from bot.messages._takes import shared_post, showcase_post, take_answer
from bot.messages._text import MAX_TEXT, MAX_VIEW_BLOCKS, Message, clip, escape, plain_text_version, seconds_text, usd
from bot.messages._thread import (
    CANCEL_ACTION_ID,
    DETAILS_ACTION_ID,
    FULL_VERSION_ACTION_ID,
    REMIX_ACTION_ID,
    RERUN_ACTION_ID,
    SHARE_ACTION_ID,
    SHOWCASE_ACTION_ID,
    cannot_post_in_channel,
    comparison_capped,
    progress_bar,
    progress_message,
    remix_refused,
    remix_unavailable,
    rerun_refused,
    rerun_unavailable,
    root_message,
    upload_title,
    video_filename,
)

__all__ = [
    "ADMIN_ONLY",
    "ADMIN_UNAVAILABLE",
    "APPROVE_ACTION_ID",
    "CANCEL_ACTION_ID",
    "DENY_ACTION_ID",
    "DENY_CALLBACK_ID",
    "DETAILS_ACTION_ID",
    "FORM_CALLBACK_ID",
    "FORM_DRAFT_ACTION_ID",
    "FORM_DURATION_ACTION_ID",
    "FORM_MODEL_ACTION_ID",
    "FORM_PRESET_ACTION_ID",
    "FULL_VERSION_ACTION_ID",
    "GLOBAL_SHORTCUT_ID",
    "HOME_NEW_VIDEO_ACTION_ID",
    "HOW_TO_ADD_A_KEY",
    "KEY_EMPTY",
    "KEY_MALFORMED",
    "KEY_NOT_ALLOWED",
    "KEY_NOT_CHECKED",
    "KEY_NO_STORE",
    "KEY_REFUSED",
    "MAX_TEXT",
    "MAX_VIEW_BLOCKS",
    "MESSAGE_SHORTCUT_ID",
    "NOBODY_TO_ASK",
    "PERF_KEY_ACTION_ID",
    "PERF_KEY_BLOCK_ID",
    "PERF_KEY_CALLBACK_ID",
    "PERF_KEY_INPUT_ID",
    "REMIX_ACTION_ID",
    "RERUN_ACTION_ID",
    "SHARE_ACTION_ID",
    "SHOWCASE_ACTION_ID",
    "STEP_NEEDS_RUNNER",
    "ApprovalAnswer",
    "BudgetNotice",
    "BudgetUse",
    "ChannelUsage",
    "FormPlace",
    "FormValues",
    "HomeSpending",
    "Message",
    "MonthBudget",
    "Showcased",
    "Spending",
    "admin_unchecked",
    "admission_refused",
    "approval_answer",
    "approval_decided",
    "approval_request",
    "bad_setting_value",
    "budget_notice",
    "cancel_result",
    "cannot_post_in_channel",
    "channel_not_allowed",
    "clip",
    "command_error",
    "comparison_capped",
    "configure",
    "daily_report",
    "defaults_admins_only",
    "defaults_changed",
    "defaults_cleared",
    "defaults_skipped",
    "defaults_status",
    "deny_form",
    "deny_form_refused",
    "deny_form_values",
    "details_message",
    "emoji",
    "escape",
    "form_channel_missing",
    "form_cost_text",
    "form_errors",
    "form_place",
    "form_refused",
    "form_values",
    "help_message",
    "history_message",
    "history_too_many_words",
    "home_view",
    "install_failure_page",
    "install_success_page",
    "internal_error",
    "key_section",
    "language",
    "language_is_personal",
    "language_name",
    "language_unknown",
    "message_link",
    "models_message",
    "month_report",
    "month_resets_text",
    "names_pending",
    "no_perf_key",
    "not_installed",
    "ordinal",
    "perf_key_errors",
    "perf_key_form",
    "plain_text_version",
    "preset_deleted",
    "preset_empty",
    "preset_list",
    "preset_name_refused",
    "preset_saved",
    "preset_too_many",
    "preset_values",
    "presets_admins_only",
    "progress_bar",
    "progress_message",
    "quota_admin_unchecked",
    "quota_admins_only",
    "quota_bad_value",
    "quota_changed",
    "quota_refused",
    "quota_status",
    "remix_form",
    "remix_refused",
    "remix_unavailable",
    "replacing_the_answer",
    "rerun_refused",
    "rerun_unavailable",
    "resets_text",
    "resolve",
    "root_message",
    "seconds_text",
    "settings_line",
    "shared_post",
    "shipped",
    "show_message",
    "show_refused",
    "showcase_post",
    "slack_locale",
    "speaking",
    "status_message",
    "supported",
    "take_answer",
    "unknown_setting",
    "upload_title",
    "usage_report",
    "usd",
    "video_filename",
    "video_form",
    "workspace_language",
    "workspace_setting_changed",
    "workspace_setting_refused",
    "workspace_settings_help",
    "workspace_settings_message",
]


def admission_refused(exc: ChannelNotAllowed | QuotaExceeded, now: float, timezone: str) -> Message:
    """Why a job was not admitted, worded the same for the command, the form, a rerun and a workflow step:
    no Perf key to pay with, a channel videobot is off in, or a quota."""
    if isinstance(exc, NoPerfKey):
        return no_perf_key()
    return _quota_refused(exc, now, timezone)
