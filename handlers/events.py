"""Slack events the app subscribes to."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.features.reruns import RerunOutcome
from handlers.services import Services
from handlers.workspace import workspace_of


def register(app: AsyncApp, services: Services) -> None:
    @app.event("reaction_added")
    async def on_reaction_added(
        ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        item = event.get("item") or {}
        team_id = workspace_of(body)
        if item.get("type") == "message":
            # Not caught on purpose: a crash answers 500, Slack redelivers, and the rerun's trigger key
            # makes the redelivery start at most one job.
            outcome = await services.reruns.from_reaction(
                reaction=str(event.get("reaction", "")),
                team_id=team_id,
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
                team_id=team_id,
                channel_id=str(item.get("channel", "")),
                message_ts=str(item.get("ts", "")),
                user_id=str(event.get("user", "")),
                bot_user_id=context.bot_user_id,
            )
        await ack()

    @app.event("app_home_opened")
    async def on_home_opened(ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        if event.get("tab") == "home" and event.get("user"):
            await services.home.opened(workspace_of(body), str(event["user"]))

    @app.event("user_change")
    async def on_user_change(ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        # A person's profile changed, their language perhaps: it is asked again in the background.
        await ack()
        user = event.get("user")
        if isinstance(user, dict):
            services.people.profile_changed(str(body.get("team_id") or user.get("team_id") or ""), user)
