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
- _recall: `/video show` (a finished job posted again) and `/video history`;
- _phrases: the wording several surfaces share (a job's one-line status and settings, command errors);
- _text: Message, Block Kit's limits, escaping and clipping, and the plain-text fallback.

The surfaces import only _phrases and _text, never each other (the `bot.messages` contract in pyproject.toml).
"""

from __future__ import annotations

from bot.messages._answers import (
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
    defaults_admin_unchecked,
    defaults_admins_only,
    defaults_changed,
    defaults_cleared,
    defaults_skipped,
    defaults_status,
)
from bot.messages._form import (
    FORM_CALLBACK_ID,
    FORM_DRAFT_ACTION_ID,
    FORM_DURATION_ACTION_ID,
    FORM_MODEL_ACTION_ID,
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
    remix_form,
    video_form,
)
from bot.messages._home import (
    HOME_NEW_VIDEO_ACTION_ID,
    BudgetUse,
    ChannelUsage,
    HomeSpending,
    home_view,
    message_link,
)
from bot.messages._phrases import command_error, emoji, ordinal, settings_line
from bot.messages._quotas import (
    admission_refused,
    channel_not_allowed,
    daily_report,
    month_resets_text,
    quota_admin_unchecked,
    quota_admins_only,
    quota_bad_value,
    quota_changed,
    quota_refused,
    quota_status,
    resets_text,
    usage_report,
)
from bot.messages._recall import history_message, history_too_many_words, show_message, show_refused
from bot.messages._text import MAX_TEXT, MAX_VIEW_BLOCKS, Message, clip, escape, plain_text_version, seconds_text, usd
from bot.messages._thread import (
    CANCEL_ACTION_ID,
    DETAILS_ACTION_ID,
    FULL_VERSION_ACTION_ID,
    REMIX_ACTION_ID,
    RERUN_ACTION_ID,
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
    "APPROVE_ACTION_ID",
    "CANCEL_ACTION_ID",
    "DENY_ACTION_ID",
    "DENY_CALLBACK_ID",
    "DETAILS_ACTION_ID",
    "FORM_CALLBACK_ID",
    "FORM_DRAFT_ACTION_ID",
    "FORM_DURATION_ACTION_ID",
    "FORM_MODEL_ACTION_ID",
    "FULL_VERSION_ACTION_ID",
    "GLOBAL_SHORTCUT_ID",
    "HOME_NEW_VIDEO_ACTION_ID",
    "MAX_TEXT",
    "MAX_VIEW_BLOCKS",
    "MESSAGE_SHORTCUT_ID",
    "REMIX_ACTION_ID",
    "RERUN_ACTION_ID",
    "ApprovalAnswer",
    "BudgetNotice",
    "BudgetUse",
    "ChannelUsage",
    "FormPlace",
    "FormValues",
    "HomeSpending",
    "Message",
    "MonthBudget",
    "Spending",
    "admission_refused",
    "approval_answer",
    "approval_decided",
    "approval_request",
    "budget_notice",
    "cancel_result",
    "cannot_post_in_channel",
    "channel_not_allowed",
    "clip",
    "command_error",
    "comparison_capped",
    "daily_report",
    "defaults_admin_unchecked",
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
    "internal_error",
    "message_link",
    "models_message",
    "month_report",
    "month_resets_text",
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
    "remix_form",
    "remix_refused",
    "remix_unavailable",
    "rerun_refused",
    "rerun_unavailable",
    "resets_text",
    "root_message",
    "seconds_text",
    "settings_line",
    "show_message",
    "show_refused",
    "status_message",
    "upload_title",
    "usage_report",
    "usd",
    "video_filename",
    "video_form",
]
