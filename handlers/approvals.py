"""Approve and Deny on a request for an expensive job, and the small form a denial's reason goes in."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.clients.slack import SlackCallError
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")


def _clicker(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def register(app: AsyncApp, services: Services) -> None:
    @app.action(messages.APPROVE_ACTION_ID)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        answer, job = await services.approvals.approve(workspace_of(body), str(action.get("value", "")), _clicker(body))
        if answer == messages.ApprovalAnswer.DECIDED:
            services.poller.wake()
        else:
            await services.slack.respond(str(body.get("response_url", "")), messages.approval_answer(answer, job))
        await ack()

    @app.action(messages.DENY_ACTION_ID)
    async def on_deny(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        job_id = str(action.get("value", ""))
        answer, job = await services.approvals.check(workspace_of(body), job_id, _clicker(body))
        if answer == messages.ApprovalAnswer.DECIDED:
            try:
                await services.slack.open_view(str(body.get("trigger_id", "")), messages.deny_form(job_id))
            except SlackCallError as exc:
                log.warning("job=%s event=deny_form_not_opened error=%s", job_id, exc.error)
                await services.slack.respond(str(body.get("response_url", "")), messages.internal_error())
        else:
            await services.slack.respond(str(body.get("response_url", "")), messages.approval_answer(answer, job))
        await ack()

    @app.view(messages.DENY_CALLBACK_ID)
    async def on_deny_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        job_id, reason = messages.deny_form_values(view)
        answer, job = await services.approvals.deny(workspace_of(body), job_id, _clicker(body), reason)
        if answer != messages.ApprovalAnswer.DECIDED:
            await ack(response_action="errors", errors=messages.deny_form_refused(answer, job))
            return
        await ack()
        services.poller.wake()
