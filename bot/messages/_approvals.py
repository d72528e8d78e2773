"""Approval for expensive jobs: the request an approver gets (with Approve and Deny), the same request once
decided, the small form a denial's reason is typed in, and the private answers to a click."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.domain.job import Decision, Job
from bot.messages._i18n import _, _n, number
from bot.messages._phrases import approval_ending, settings_line
from bot.messages._text import (
    MAX_TEXT,
    Message,
    channel_link,
    clip,
    escape,
    mention,
    mrkdwn,
    private_answer,
    quote_prompt,
    usd,
)

APPROVE_ACTION_ID = "approval_approve"
DENY_ACTION_ID = "approval_deny"
DENY_CALLBACK_ID = "approval_deny_form"
_REASON_BLOCK = "reason"
_REASON_ACTION = "reason_input"
MAX_REASON = 500


class ApprovalAnswer(StrEnum):
    """What a click on Approve or Deny (or the denial form) found."""

    DECIDED = "decided"
    NOT_FOUND = "not_found"
    NOT_AN_APPROVER = "not_an_approver"
    OWN_JOB = "own_job"  # VIDEOBOT_APPROVE_OWN=0: another approver decides it
    ALREADY_DECIDED = "already_decided"
    UNCHECKED = "unchecked"  # Slack could not say whether the person is an admin


def _where(job: Job) -> str:
    return _("in a direct message") if job.private else _("in {channel}", channel=channel_link(job.channel_id))


def _what(job: Job) -> str:
    """What is asked for and what it costs: a take of a comparison is over the limit by the comparison's total."""
    if job.compared:
        return _n(
            "a comparison of {count} model {where} that costs *{cost} in all*",
            "a comparison of {count} models {where} that costs *{cost} in all*",
            len(job.compared),
            where=_where(job),
            cost=usd(job.comparison_cost_micros or 0),
        )
    return _("a video {where} that costs *{cost}*", where=_where(job), cost=usd(job.estimated_cost_micros))


def _take(job: Job) -> str:
    """A comparison's take is approved on its own: which one this request is for."""
    if not job.compared:
        return ""
    return _(
        ". This request is for its {model} take (est. {cost}); each take is approved or denied on its own",
        model=escape(job.model),
        cost=usd(job.estimated_cost_micros),
    )


def _request_blocks(job: Job, limit_micros: int) -> list[dict[str, Any]]:
    head = (
        _(
            "💸 {who} asks for {what}, over this workspace's {limit} limit",
            who=mention(job.user_id),
            what=_what(job),
            limit=usd(limit_micros),
        )
        + f"{_take(job)}:\n"
    )
    return [
        {"type": "section", "text": mrkdwn(head + quote_prompt(job.prompt, MAX_TEXT - len(head) - 2))},
        {"type": "context", "elements": [mrkdwn(escape(settings_line(job)))]},
    ]


def approval_request(job: Job, *, limit_micros: int, hours: float) -> Message:
    """The request in the approval channel or an approver's direct messages."""

    def button(action_id: str, label: str, style: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "style": style,
            "value": job.id,
        }

    blocks = _request_blocks(job, limit_micros)
    blocks.append(
        {
            "type": "actions",
            "elements": [
                button(APPROVE_ACTION_ID, _("Approve"), "primary"),
                button(DENY_ACTION_ID, _("Deny"), "danger"),
            ],
        }
    )
    ends = _("Undecided, it ends in {hours} h. One decision counts.", hours=number(Decimal(str(hours)).normalize()))
    blocks.append({"type": "context", "elements": [mrkdwn(ends)]})
    who = mention(job.user_id)
    fallback = _("💸 {who} asks for a {cost} video: approve or deny", who=who, cost=usd(job.estimated_cost_micros))
    if job.compared:
        fallback = _n(
            "💸 {who} asks for a {cost} comparison of {count} model: approve or deny its {model} take",
            "💸 {who} asks for a {cost} comparison of {count} models: approve or deny its {model} take",
            len(job.compared),
            who=who,
            cost=usd(job.comparison_cost_micros or 0),
            model=escape(job.model),
        )
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def decision_line(job: Job) -> str:
    """Who decided, as every copy of the request shows it once decided."""
    if job.approval == Decision.APPROVED:
        if job.approval_by == job.user_id:
            return _("✅ Approved: {who} may approve their own jobs", who=mention(job.user_id))
        return _("✅ Approved by {who}", who=mention(job.approval_by or ""))
    return approval_ending(job) or _("Decided")


def approval_decided(job: Job, *, limit_micros: int) -> Message:
    """A copy of the request once decided: the buttons gone, who decided in their place."""
    line = decision_line(job)
    blocks = [*_request_blocks(job, limit_micros), {"type": "context", "elements": [mrkdwn(line)]}]
    fallback = clip(
        _(
            "💸 A {cost} video for {who}: {decision}",
            cost=usd(job.estimated_cost_micros),
            who=mention(job.user_id),
            decision=line,
        ),
        MAX_TEXT,
        sent=True,
    )
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def deny_form(job_id: str) -> dict[str, Any]:
    """The small modal Deny opens: an optional reason, which the requester's thread shows."""
    return {
        "type": "modal",
        "callback_id": DENY_CALLBACK_ID,
        "private_metadata": job_id,
        "title": {"type": "plain_text", "text": _("Deny this video")},
        "submit": {"type": "plain_text", "text": _("Deny")},
        "close": {"type": "plain_text", "text": _("Back")},
        "blocks": [
            {
                "type": "input",
                "block_id": _REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": _("Why? (the requester sees this)")},
                "element": {
                    "type": "plain_text_input",
                    "action_id": _REASON_ACTION,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            }
        ],
    }


def deny_form_values(view: dict[str, Any]) -> tuple[str, str]:
    """The job id and the reason (maybe empty) of a submitted denial form."""
    values = ((view.get("state") or {}).get("values") or {}).get(_REASON_BLOCK) or {}
    reason = str((values.get(_REASON_ACTION) or {}).get("value") or "").strip()
    return str(view.get("private_metadata", "")), reason[:MAX_REASON]


def approval_answer_text(answer: ApprovalAnswer, job: Job | None) -> str:
    match answer:
        case ApprovalAnswer.NOT_FOUND:
            return _("I can't find that request any more. Nothing was changed.")
        case ApprovalAnswer.NOT_AN_APPROVER:
            return _("Only workspace admins and the approvers named in VIDEOBOT_APPROVERS can decide this request.")
        case ApprovalAnswer.OWN_JOB:
            return _("This is your own video: another approver has to decide it (VIDEOBOT_APPROVE_OWN=0).")
        case ApprovalAnswer.ALREADY_DECIDED:
            if job is not None and job.approval:
                return _("This request was already decided: {decision}.", decision=decision_line(job))
            return _("This request was already decided.")
        case ApprovalAnswer.UNCHECKED:
            return _(
                "Slack didn't tell me whether you are an admin just now, so nothing was decided. Try again in a minute."
            )
    return _("Done.")


def approval_answer(answer: ApprovalAnswer, job: Job | None) -> Message:
    """The private answer to a click on Approve or Deny that decided nothing."""
    return private_answer(approval_answer_text(answer, job))


def deny_form_refused(answer: ApprovalAnswer, job: Job | None) -> dict[str, str]:
    """The denial form's answer when it decides nothing, shown on its field."""
    return {_REASON_BLOCK: clip(approval_answer_text(answer, job), 150, sent=True)}
