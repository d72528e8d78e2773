"""The workspace's Perf key in App Home: the button that opens the form, and the form's submission."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from handlers.services import Services


def _team(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or (body.get("user") or {}).get("team_id") or "")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def register(app: AsyncApp, services: Services) -> None:
    @app.action(messages.PERF_KEY_ACTION_ID)
    async def on_open_key_form(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await services.home.open_key_form(_team(body), _user(body), str(body.get("trigger_id", "")))

    @app.view(messages.PERF_KEY_CALLBACK_ID)
    async def on_key_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        typed = str(
            ((values.get(messages.PERF_KEY_BLOCK_ID) or {}).get(messages.PERF_KEY_INPUT_ID) or {}).get("value") or ""
        )
        problem = await services.home.set_key(_team(body), _user(body), typed)
        if problem is not None:
            await ack(response_action="errors", errors=messages.perf_key_errors(problem))
            return
        await ack()
        await services.home.publish(_team(body), _user(body))
