"""The other ways into the form: "Make a video of this" on a message, the global "Make a video"
shortcut, and App Home's *New video* button. Each opens the same form; its submission is the form's."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain.mrkdwn import mentioned_users, plain_words
from handlers.services import Services
from handlers.workspace import workspace_of

log = logging.getLogger("videobot.handlers")

# Names are looked up before the form opens, within the 3 s a trigger lasts: a few at most.
MAX_NAMES_LOOKED_UP = 5


def register(app: AsyncApp, services: Services) -> None:
    @app.shortcut(messages.MESSAGE_SHORTCUT_ID)
    async def on_message_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        channel_id = str((body.get("channel") or {}).get("id", ""))
        text = str(message.get("text") or "")
        prompt = plain_words(
            text, await services.people.names(mentioned_users(text)[:MAX_NAMES_LOOKED_UP], team_id=workspace_of(body))
        )
        # A message in a thread (a reply, or a parent with replies) carries thread_ts: the job goes there.
        thread_ts = message.get("thread_ts")
        place = messages.FormPlace(channel_id, thread_ts=thread_ts if isinstance(thread_ts, str) else None)
        values = await services.defaults.form_values(workspace_of(body), channel_id, _user(body), prompt)
        await _open(services, body, place, values)

    # Opened from nowhere in particular, the form knows no channel yet: the person's own defaults alone.
    @app.shortcut(messages.GLOBAL_SHORTCUT_ID)
    async def on_global_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        values = await services.defaults.form_values(workspace_of(body), "", _user(body))
        place = messages.FormPlace(pick_channel=True)
        await _open(services, body, place, values)

    @app.action(messages.HOME_NEW_VIDEO_ACTION_ID)
    async def on_home_new_video(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        values = await services.defaults.form_values(workspace_of(body), "", _user(body))
        place = messages.FormPlace(pick_channel=True)
        await _open(services, body, place, values)


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def _open(
    services: Services, body: dict[str, Any], place: messages.FormPlace, values: messages.FormValues
) -> None:
    # The person's presets (and the channel's, when it is known) fill the form's menu.
    trigger_id = str(body.get("trigger_id", ""))
    place = replace(place, presets=await services.presets.names(workspace_of(body), place.channel_id, _user(body)))
    try:
        await services.slack.open_view(trigger_id, messages.video_form(place.channel_id, values, place=place))
    except SlackCallError as exc:
        # The trigger lasts 3 s and is good once; nothing else can open the form for this click.
        log.warning("event=form_not_opened channel=%s error=%s", place.channel_id or "-", exc.error)
