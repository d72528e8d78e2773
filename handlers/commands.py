"""The `/video` slash command: parse, store, ack, wake the poller. Everything else is the job's."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain.defaults import Skipped
from bot.domain.job import CancelOutcome
from bot.domain.perf_keys import NoPerfKey
from bot.domain.quotas import ChannelNotAllowed, QuotaExceeded
from bot.domain.request import (
    AdminRequest,
    CancelRequest,
    CommandError,
    DefaultsRequest,
    FormRequest,
    HelpRequest,
    HistoryRequest,
    ModelsRequest,
    PresetRequest,
    QuotaRequest,
    ReportRequest,
    ShowRequest,
    StatusRequest,
    VideoRequest,
    comparison_takes,
    parse_video_command,
)
from bot.features import workspace_admin
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")

COMMAND = "/video"


def register(app: AsyncApp, services: Services) -> None:
    # Socket Mode's way in; over HTTP, bot.runtime.app answers /video itself, with the same function.
    @app.command(COMMAND)
    async def on_video(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(**await answer_video_command(services, command))


async def answer_video_command(services: Services, command: Mapping[str, Any]) -> messages.Message:
    """What Slack gets as the command's acknowledgement ({} for a bare 200); never raises.

    A job is stored before this returns: once Slack has its 200, the job must survive a crash."""
    parsed = parse_video_command(command.get("text"))
    channel_id, user_id = command.get("channel_id", ""), command.get("user_id", "")
    if isinstance(parsed, FormRequest):
        return await _open_form(services, command.get("trigger_id", ""), _team(command), channel_id, user_id)
    if isinstance(parsed, HelpRequest):
        help_message = _help(services)
        extra = await workspace_admin.help_lines(services.jobs.settings_for, str(command.get("team_id") or ""))
        return {**help_message, "text": str(help_message.get("text", "")) + extra} if extra else help_message
    if isinstance(parsed, CommandError):
        log.info("event=command_refused code=%s channel=%s", parsed.code, channel_id)
        return messages.command_error(parsed)
    try:
        return await _answer(services, parsed, command, channel_id, user_id)
    except (ChannelNotAllowed, QuotaExceeded) as exc:
        if isinstance(exc, NoPerfKey):
            log.info("event=no_perf_key team=%s user=%s", command.get("team_id", ""), user_id)
        elif isinstance(exc, ChannelNotAllowed):
            log.info("event=channel_not_allowed channel=%s user=%s", channel_id, user_id)
        return _for_ack(messages.admission_refused(exc, services.clock.now(), services.settings.timezone))
    except Exception as exc:
        log.exception("event=command_failed channel=%s error=%s", channel_id, type(exc).__name__)
        return messages.internal_error()


async def _open_form(
    services: Services, trigger_id: str, team_id: str, channel_id: str, user_id: str
) -> messages.Message:
    try:
        values = await services.defaults.form_values(team_id, channel_id, user_id)
        place = messages.FormPlace(channel_id, presets=await services.presets.names(team_id, channel_id, user_id))
        await services.slack.open_view(trigger_id, messages.video_form(channel_id, values, place=place))
    except SlackCallError as exc:
        log.warning("event=form_not_opened channel=%s error=%s", channel_id, exc.error)
        return _help(services)
    return {}


async def _answer(
    services: Services,
    parsed: AdminRequest
    | QuotaRequest
    | ReportRequest
    | ModelsRequest
    | StatusRequest
    | CancelRequest
    | DefaultsRequest
    | PresetRequest
    | ShowRequest
    | HistoryRequest
    | VideoRequest,
    command: Mapping[str, Any],
    channel_id: str,
    user_id: str,
) -> messages.Message:
    team_id, response_url = _team(command), str(command.get("response_url") or "")
    if isinstance(parsed, AdminRequest):
        return _for_ack(
            await workspace_admin.answer(services.jobs.settings_for, services.people, parsed, team_id, user_id)
        )
    if isinstance(parsed, QuotaRequest):
        if parsed.new_limit is None:
            return await services.reports.quota(team_id, channel_id, user_id)
        return await services.reports.set_quota(team_id, channel_id, user_id, parsed.new_limit)
    if isinstance(parsed, ReportRequest):
        if parsed.month:
            return await services.budgets.report_month(team_id, user_id, response_url)
        return await services.reports.report_today(team_id, channel_id, user_id, response_url)
    if isinstance(parsed, ModelsRequest):
        return _for_ack(messages.models_message())
    if isinstance(parsed, DefaultsRequest):
        return _for_ack(await services.defaults.answer(team_id, parsed, channel_id, user_id))
    if isinstance(parsed, PresetRequest):
        return _for_ack(await services.presets.answer(team_id, parsed, channel_id, user_id))
    if isinstance(parsed, StatusRequest):
        return _for_ack(messages.status_message(await services.control.unfinished(team_id, channel_id, user_id)))
    if isinstance(parsed, ShowRequest):
        return _for_ack(await services.recall.show(team_id, parsed.job_id, user_id))
    if isinstance(parsed, HistoryRequest):
        return _for_ack(await services.recall.history(team_id, user_id, parsed.words))
    if isinstance(parsed, CancelRequest):
        outcome, job = await services.control.cancel(team_id, parsed.job_id, user_id, channel_id)
        if outcome == CancelOutcome.CANCELLED:
            services.poller.wake()
        return _for_ack(messages.cancel_result(outcome, parsed.job_id, job))
    return await _start(services, parsed, command, channel_id, user_id)


async def _start(
    services: Services, parsed: VideoRequest, command: Mapping[str, Any], channel_id: str, user_id: str
) -> messages.Message:
    effective = await services.defaults.apply(_team(command), parsed, channel_id, user_id)
    if isinstance(effective, CommandError):
        log.info("event=command_refused code=%s channel=%s", effective.code, channel_id)
        return messages.command_error(effective)
    if parsed.models:
        compared = replace(effective.request, models=parsed.models)
        return await _start_comparison(services, compared, command, effective.skipped)
    job = await services.jobs.start(
        effective.request,
        team_id=_team(command),
        channel_id=channel_id,
        user_id=user_id,
        response_url=command.get("response_url", ""),
    )
    # Only schedules a tick: the acknowledgement goes out first.
    services.poller.wake()
    if effective.skipped:
        log.info("job=%s event=defaults_skipped options=%s", job.id, [s.option for s in effective.skipped])
        return _for_ack(messages.defaults_skipped(effective.skipped))
    return {}


async def _start_comparison(
    services: Services, request: VideoRequest, command: Mapping[str, Any], skipped: Sequence[Skipped]
) -> messages.Message:
    """`--models`: one take per model, stored together; the takes cut to a model's longest, and what of a
    preset or the defaults was skipped, are said privately."""
    await services.jobs.start_comparison(
        request,
        team_id=_team(command),
        channel_id=command.get("channel_id", ""),
        user_id=command.get("user_id", ""),
        response_url=command.get("response_url", ""),
    )
    services.poller.wake()
    capped = [take for take in comparison_takes(request) if take.capped_from is not None]
    return _for_ack(messages.comparison_capped(capped, skipped)) if capped or skipped else {}


def _team(command: Mapping[str, Any]) -> str:
    """The workspace the command comes from, as every other handler finds it."""
    return workspace_of(command)


def _help(services: Services) -> messages.Message:
    settings = services.settings
    return messages.help_message(rerun_emoji=settings.rerun_emoji[0], showcase=bool(settings.showcase_channel))


def _for_ack(message: messages.Message) -> messages.Message:
    # An ack carries only these; the same message sent to a response_url may carry more.
    return {key: value for key, value in message.items() if key in ("text", "blocks", "response_type")}
