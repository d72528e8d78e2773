"""Slack events the app subscribes to."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    @app.event("reaction_added")
    async def on_reaction_added(ack: AsyncAck) -> None:
        # The manifest subscribes to reaction_added for reruns (issue #3, not built yet). Until then the
        # event is acknowledged so Slack does not count it as a delivery failure and retry it.
        await ack()
