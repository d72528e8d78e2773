"""Buttons on the bot's messages (Block Kit `block_actions`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import messages
from bot.reruns import RerunOutcome
from bot.services import Services

log = logging.getLogger("videobot.handlers")


def register(app: AsyncApp, services: Services) -> None:
    @app.action(messages.RERUN_ACTION_ID)
    async def on_run_again(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        container = body.get("container") or {}
        try:
            outcome = await services.reruns.from_button(
                channel_id=str(container.get("channel_id") or (body.get("channel") or {}).get("id", "")),
                message_ts=str(container.get("message_ts", "")),
                user_id=str((body.get("user") or {}).get("id", "")),
                action_ts=str(action.get("action_ts", "")),
                response_url=str(body.get("response_url", "")),
                bot_user_id=context.bot_user_id,
            )
        except Exception as exc:
            log.exception("event=rerun_crashed trigger=button error=%s", type(exc).__name__)
            await services.slack.respond(str(body.get("response_url", "")), messages.internal_error())
        else:
            if outcome is RerunOutcome.STARTED:
                services.poller.wake()
        await ack()
