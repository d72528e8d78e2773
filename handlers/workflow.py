"""The Workflow Builder step "Make a video": its inputs are checked like the form's, and the job it
starts ends the step when the job ends (bot/jobs/workflow_step.py). A step whose inputs are wrong, or
that a quota refuses, fails at once with the reason a person would have been told."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain.quotas import ChannelNotAllowed, QuotaExceeded
from bot.domain.request import CommandError, validate_form
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")

STEP_CALLBACK_ID = "make_video"


def register(app: AsyncApp, services: Services) -> None:
    @app.function(STEP_CALLBACK_ID)
    async def on_make_video(body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        execution_id = str(event.get("function_execution_id", ""))
        token = str(event.get("bot_access_token", ""))
        inputs = event.get("inputs") or {}
        refusal = await _start(services, body, inputs, execution_id, token)
        if refusal:
            try:
                await services.slack.complete_step(token, execution_id, None, refusal)
            except SlackCallError as exc:
                log.warning("event=step_not_failed execution=%s error=%s", execution_id, exc.error)


def _runner(value: Any) -> str:
    """The person who ran the workflow, as Slack vouches for them: a `slack#/types/user_context` input, which
    Workflow Builder fills itself and no builder can type. A bare user id is anyone the builder chose (an
    admin, an approver), so it names no one: their quota, budget and approval rights are not the builder's."""
    if not isinstance(value, dict):
        return ""
    user_id = value.get("id")
    return user_id.strip() if isinstance(user_id, str) and user_id.strip().startswith(("U", "W")) else ""


async def _start(
    services: Services, body: dict[str, Any], inputs: dict[str, Any], execution_id: str, token: str
) -> str:
    """Store the step's job; "" when it is stored (or was already), else why the step fails."""

    def text(name: str) -> str:
        value = inputs.get(name)
        return "" if value is None else str(value).strip()

    request = validate_form(text("prompt"), text("model"), text("duration"), text("resolution"), text("aspect_ratio"))
    if isinstance(request, CommandError):
        return str(messages.command_error(request)["text"])
    channel_id, user_id = text("channel_id"), _runner(inputs.get("requester"))
    if not channel_id:
        return messages.step_needs_channel()
    if not user_id:
        log.info("event=step_requester_refused execution=%s", execution_id)
        return messages.step_needs_runner()
    # The inputs left empty take the requester's and the channel's defaults, as a typed command's would.
    effective = await services.defaults.apply(workspace_of(body), request, channel_id, user_id)
    if isinstance(effective, CommandError):
        return str(messages.command_error(effective)["text"])
    try:
        job = await services.jobs.start_for_step(
            effective.request,
            team_id=workspace_of(body),
            channel_id=channel_id,
            user_id=user_id,
            execution_id=execution_id,
            token=token,
        )
    except (ChannelNotAllowed, QuotaExceeded) as exc:
        return str(messages.admission_refused(exc, services.clock.now(), services.settings.timezone)["text"])
    if job is not None:
        skipped = [item.option for item in effective.skipped]
        log.info("job=%s event=started_by_step defaults_skipped=%s", job.id, skipped or "-")
    services.poller.wake()
    return ""
