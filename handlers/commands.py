"""The `/video` slash command: parse, store, ack, wake the poller. Everything else is the job's."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.command import CommandError, HelpRequest, parse_video_command
from bot.services import Services

log = logging.getLogger("videobot.handlers")


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/video")
    async def on_video(ack: AsyncAck, command: dict[str, Any]) -> None:
        parsed = parse_video_command(command.get("text"))
        if isinstance(parsed, HelpRequest):
            await ack(**messages.help_message(rerun_emoji=services.settings.rerun_emoji[0]))
            return
        if isinstance(parsed, CommandError):
            log.info("event=command_refused code=%s channel=%s", parsed.code, command.get("channel_id"))
            await ack(**messages.command_error(parsed))
            return
        try:
            # Stored before the ack: once Slack has its 200, the job must survive a crash.
            await services.jobs.start(
                parsed,
                team_id=command.get("team_id", ""),
                channel_id=command["channel_id"],
                user_id=command["user_id"],
                response_url=command.get("response_url", ""),
            )
        except Exception as exc:
            log.exception("event=job_store_failed error=%s", type(exc).__name__)
            await ack(**messages.internal_error())
            return
        await ack()
        services.poller.wake()
