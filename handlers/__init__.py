"""Slack listeners, thin on purpose: ack, parse, call one service, render."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, approvals, commands, events, form, keys, shortcuts, workflow
from handlers.services import Services


def register_all(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    events.register(app, services)
    actions.register(app, services)
    form.register(app, services)
    shortcuts.register(app, services)
    workflow.register(app, services)
    approvals.register(app, services)
    keys.register(app, services)
