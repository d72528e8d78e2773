"""The form a bare `/video` opens: a live cost preview while it is filled in, field errors, the job (one a view:
its submission is keyed `form:<view id>`, so a redelivery or a restart between them starts no second one)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain.quotas import ChannelNotAllowed, QuotaExceeded
from bot.domain.request import CommandError, validate_form
from bot.features.remixes import RemixOutcome
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")


def register(app: AsyncApp, services: Services) -> None:
    async def update_cost(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        place = messages.form_place(view)
        try:
            await services.slack.update_view(
                str(view.get("id", "")),
                str(view.get("hash", "")),
                messages.video_form(place.channel_id, messages.form_values(view), place=place),
            )
        except SlackCallError as exc:
            # hash_conflict: the person typed again meanwhile, and that newer change brings its own update.
            log.info("event=form_not_updated error=%s", exc.error)

    @app.action(messages.FORM_PRESET_ACTION_ID)
    async def on_preset_picked(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        place, values = messages.form_place(view), messages.form_values(view)
        name = str((action.get("selected_option") or {}).get("value", ""))
        user_id = str((body.get("user") or {}).get("id", ""))
        options = await services.presets.options(workspace_of(body), name, place.channel_id or values.channel, user_id)
        if options is None:  # deleted since the form opened: nothing to fill in
            return
        # New block_ids for the fields the preset fills in: Slack shows the new values instead of the old.
        renamed = replace(place, revision=place.revision + 1)
        try:
            await services.slack.update_view(
                str(view.get("id", "")),
                str(view.get("hash", "")),
                messages.video_form(place.channel_id, messages.preset_values(values, options), place=renamed),
            )
        except SlackCallError as exc:
            log.info("event=form_not_updated error=%s", exc.error)

    app.action(messages.FORM_MODEL_ACTION_ID)(update_cost)
    app.action(messages.FORM_DURATION_ACTION_ID)(update_cost)
    app.action(messages.FORM_DRAFT_ACTION_ID)(update_cost)

    @app.view(messages.FORM_CALLBACK_ID)
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await _submit(services, ack, body, view)


async def _submit(services: Services, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
    values = messages.form_values(view)
    place = messages.form_place(view)
    channel_id = values.channel if place.pick_channel else place.channel_id
    if not channel_id:
        await ack(response_action="errors", errors=messages.form_channel_missing())
        return
    user_id = str((body.get("user") or {}).get("id", ""))
    request = validate_form(
        values.prompt,
        values.model,
        values.duration,
        values.resolution,
        values.aspect_ratio,
        values.private,
        style=values.style,
        draft=values.draft,
    )
    if isinstance(request, CommandError):
        await ack(response_action="errors", errors=messages.form_errors(request, place))
        return
    try:
        # Stored before the ack, as for the typed command.
        if place.remix_of:
            remixed = await services.remixes.submit(
                place.remix_of, request, team_id=workspace_of(body), user_id=user_id, view_id=view_id(view)
            )
            if remixed in (RemixOutcome.GONE, RemixOutcome.NOT_YOURS):
                refusal = messages.remix_refused(remixed is RemixOutcome.GONE)["text"]
                await ack(response_action="errors", errors=messages.form_refused(refusal))
                return
        else:
            await services.jobs.start_from_form(
                request,
                view_id=view_id(view),
                team_id=workspace_of(body),
                channel_id=channel_id,
                user_id=user_id,
                thread_ts=place.thread_ts,
            )
    except (ChannelNotAllowed, QuotaExceeded) as exc:
        refusal = messages.admission_refused(exc, services.clock.now(), services.settings.timezone)["text"]
        # A channel the person picked is answered on its field; a quota on the prompt, as before.
        field = "channel" if place.pick_channel and type(exc) is ChannelNotAllowed else "prompt"
        await ack(response_action="errors", errors=messages.form_refused(refusal, field))
        return
    await ack()
    services.poller.wake()


def view_id(view: dict[str, Any]) -> str:
    # A view keeps its id from views.open to its submission, and every delivery of that submission has it.
    return str(view.get("id", ""))
