"""The `/video` slash command: parse, store, ack, wake the poller. Everything else is the job's."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.command import (
    CancelRequest,
    CommandError,
    FormRequest,
    HelpRequest,
    ModelsRequest,
    QuotaRequest,
    ReportRequest,
    StatusRequest,
    parse_video_command,
)
from bot.quotas import ChannelNotAllowed, QuotaExceeded
from bot.services import Services
from bot.slack import SlackCallError

log = logging.getLogger("videobot.handlers")


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/video")
    async def on_video(ack: AsyncAck, command: dict[str, Any]) -> None:
        parsed = parse_video_command(command.get("text"))
        channel_id, user_id = command["channel_id"], command["user_id"]
        if isinstance(parsed, FormRequest):
            try:
                await services.slack.open_view(command.get("trigger_id", ""), messages.video_form(channel_id))
            except SlackCallError as exc:
                log.warning("event=form_not_opened channel=%s error=%s", channel_id, exc.error)
                await ack(**messages.help_message(rerun_emoji=services.settings.rerun_emoji[0]))
                return
            await ack()
            return
        if isinstance(parsed, HelpRequest):
            await ack(**messages.help_message(rerun_emoji=services.settings.rerun_emoji[0]))
            return
        if isinstance(parsed, CommandError):
            log.info("event=command_refused code=%s channel=%s", parsed.code, channel_id)
            await ack(**messages.command_error(parsed))
            return
        try:
            if isinstance(parsed, QuotaRequest):
                if parsed.new_limit is None:
                    await ack(**await services.reports.quota(channel_id, user_id))
                else:
                    await ack(**await services.reports.set_quota(channel_id, user_id, parsed.new_limit))
                return
            if isinstance(parsed, ReportRequest):
                await ack(**await services.reports.report_today(channel_id, user_id))
                return
            if isinstance(parsed, ModelsRequest):
                await ack(**_for_ack(messages.models_message()))
                return
            if isinstance(parsed, StatusRequest):
                await ack(**_for_ack(messages.status_message(await services.control.unfinished(channel_id, user_id))))
                return
            if isinstance(parsed, CancelRequest):
                outcome, _ = await services.control.cancel(parsed.job_id, user_id, channel_id)
                if outcome == "cancelled":
                    services.poller.wake()
                await ack(**_for_ack(messages.cancel_result(outcome, parsed.job_id)))
                return
            # Stored before the ack: once Slack has its 200, the job must survive a crash.
            await services.jobs.start(
                parsed,
                team_id=command.get("team_id", ""),
                channel_id=channel_id,
                user_id=user_id,
                response_url=command.get("response_url", ""),
            )
        except ChannelNotAllowed:
            log.info("event=channel_not_allowed channel=%s user=%s", channel_id, user_id)
            await ack(**_for_ack(messages.channel_not_allowed()))
            return
        except QuotaExceeded as exc:
            await ack(**_for_ack(messages.quota_refused(exc, services.clock.now(), services.settings.timezone)))
            return
        except Exception as exc:
            log.exception("event=command_failed channel=%s error=%s", channel_id, type(exc).__name__)
            await ack(**messages.internal_error())
            return
        await ack()
        services.poller.wake()


def _for_ack(message: messages.Message) -> messages.Message:
    # An ack carries only these; the same message sent to a response_url may carry more.
    return {key: value for key, value in message.items() if key in ("text", "blocks", "response_type")}
