"""Slack events the app subscribes to."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.features.reruns import RerunOutcome
from handlers.services import Services


def register(app: AsyncApp, services: Services) -> None:
    @app.event("reaction_added")
    async def on_reaction_added(ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext) -> None:
        item = event.get("item") or {}
        if item.get("type") == "message":
            # Not caught on purpose: a crash answers 500, Slack redelivers, and the rerun's trigger key
            # makes the redelivery start at most one job.
            outcome = await services.reruns.from_reaction(
                reaction=str(event.get("reaction", "")),
                channel_id=str(item.get("channel", "")),
                message_ts=str(item.get("ts", "")),
                user_id=str(event.get("user", "")),
                bot_user_id=context.bot_user_id,
            )
            if outcome is RerunOutcome.STARTED:
                services.poller.wake()
            # A ⭐ showcases the take once (the claim makes redeliveries and more stars no-ops).
            await services.takes.star(
                reaction=str(event.get("reaction", "")),
                channel_id=str(item.get("channel", "")),
                message_ts=str(item.get("ts", "")),
                user_id=str(event.get("user", "")),
                bot_user_id=context.bot_user_id,
            )
        await ack()

    @app.event("app_home_opened")
    async def on_home_opened(ack: AsyncAck, event: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        if event.get("tab") == "home" and event.get("user"):
            await services.home.opened(str(event["user"]), str(body.get("team_id") or ""))
