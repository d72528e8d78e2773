"""Buttons on the bot's messages (Block Kit `block_actions`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import messages
from bot.domain.job import CancelOutcome
from bot.features.remixes import RemixOutcome
from bot.features.reruns import RerunOutcome
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")


def register(app: AsyncApp, services: Services) -> None:
    @app.action(messages.RERUN_ACTION_ID)
    async def on_run_again(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await _rerun_click(services, body, action, context, full_version=False)
        await ack()

    @app.action(messages.FULL_VERSION_ACTION_ID)
    async def on_full_version(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await _rerun_click(services, body, action, context, full_version=True)
        await ack()

    @app.action(messages.REMIX_ACTION_ID)
    async def on_remix(ack: AsyncAck, body: dict[str, Any]) -> None:
        channel_id, message_ts = _clicked_message(body)
        user_id = str((body.get("user") or {}).get("id", ""))
        outcome = await services.remixes.open_form(
            team_id=workspace_of(body),
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=user_id,
            trigger_id=str(body.get("trigger_id", "")),
        )
        if outcome in (RemixOutcome.NOT_YOURS, RemixOutcome.UNAVAILABLE):
            refusal = (
                messages.remix_unavailable() if outcome is RemixOutcome.UNAVAILABLE else messages.remix_refused(False)
            )
            await services.slack.tell_privately(channel_id, user_id, refusal, str(body.get("response_url", "")))
        await ack()

    @app.action(messages.SHOWCASE_ACTION_ID)
    async def on_showcase(ack: AsyncAck, body: dict[str, Any]) -> None:
        channel_id, message_ts = _clicked_message(body)
        await services.takes.showcase_button(
            team_id=workspace_of(body),
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=str((body.get("user") or {}).get("id", "")),
            response_url=str(body.get("response_url", "")),
        )
        await ack()

    @app.action(messages.SHARE_ACTION_ID)
    async def on_share(ack: AsyncAck, body: dict[str, Any]) -> None:
        channel_id, message_ts = _clicked_message(body)
        await services.takes.share_button(
            team_id=workspace_of(body),
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=str((body.get("user") or {}).get("id", "")),
            response_url=str(body.get("response_url", "")),
        )
        await ack()

    @app.action(messages.CANCEL_ACTION_ID)
    async def on_cancel(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id", ""))
        channel_id = str((body.get("container") or {}).get("channel_id", ""))
        job_id = str(action.get("value", ""))
        outcome, _ = await services.control.cancel(workspace_of(body), job_id, user_id, channel_id)
        if outcome == CancelOutcome.CANCELLED:
            services.poller.wake()
        else:
            await services.slack.respond(str(body.get("response_url", "")), messages.cancel_result(outcome, job_id))
        await ack()

    @app.action(messages.DETAILS_ACTION_ID)
    async def on_details(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        found = await services.control.details(workspace_of(body), str(action.get("value", "")))
        message = messages.details_message(*found) if found else messages.cancel_result(CancelOutcome.NOT_FOUND, "")
        await services.slack.respond(str(body.get("response_url", "")), message)
        await ack()


async def _rerun_click(
    services: Services, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext, *, full_version: bool
) -> None:
    """*Run again* or *Make the full version*: one job per click (its action_ts), answered after it is stored."""
    channel_id, message_ts = _clicked_message(body)
    try:
        outcome = await services.reruns.from_button(
            full_version=full_version,
            team_id=workspace_of(body),
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=str((body.get("user") or {}).get("id", "")),
            action_ts=str(action.get("action_ts", "")),
            response_url=str(body.get("response_url", "")),
            bot_user_id=context.bot_user_id,
        )
    except Exception as exc:
        log.exception("event=rerun_crashed trigger=%s error=%s", action.get("action_id", "button"), type(exc).__name__)
        await services.slack.respond(str(body.get("response_url", "")), messages.internal_error())
    else:
        if outcome is RerunOutcome.STARTED:
            services.poller.wake()


def _clicked_message(body: dict[str, Any]) -> tuple[str, str]:
    """The conversation and ts of the message whose button was clicked: the job is found by them, not by
    what the button carries, so a click can only act on a message its clicker sees."""
    container = body.get("container") or {}
    channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    return str(channel_id), str(container.get("message_ts", ""))
