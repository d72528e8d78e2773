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

    # One listener for every way a workspace leaves: Bolt runs only the first listener matching an event, so
    # its built-in revocation listeners are not enabled beside this one. Each is idempotent, so any order,
    # repetition or redelivery ends in the same place.
    async def on_workspace_leaving(ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        enterprise_id = _text(body.get("enterprise_id")) or None
        team_id = _text(body.get("team_id")) or None
        kind = event.get("type")
        if kind == "team_access_revoked":
            teams = [team for team in event.get("team_ids") or [] if isinstance(team, str)]
            await services.workspaces.access_revoked(enterprise_id, teams)
        elif kind == "app_uninstalled" or (kind == "tokens_revoked" and (event.get("tokens") or {}).get("bot")):
            if body.get("is_enterprise_install") is True:
                team_id = None  # the org-wide install, stored without a team
            await services.workspaces.uninstalled(enterprise_id, team_id, why=str(kind))
        # tokens_revoked for people's tokens only: the bot keeps none of them.
        await ack()

    for leaving in ("app_uninstalled", "tokens_revoked", "team_access_revoked"):
        app.event(leaving)(on_workspace_leaving)

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


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
