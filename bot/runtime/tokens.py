"""Whether Slack takes the bot's tokens: asked once by `videobot run` before it opens anything, and by
`videobot check`.

A token Slack refuses for good (wrong, made up, revoked, of the wrong kind) is named in one line, and
`run` stops there: Slack's Socket Mode client would otherwise retry a refused app token forever, with a
traceback every few seconds and never a word about SLACK_APP_TOKEN. A Slack that does not answer is not
a verdict on the token: `run` starts anyway (its clients retry), `check` says it could not reach Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.clients.slack import make_web_client
from bot.domain.settings import Settings

# Slack's answers that no retry changes: the token is wrong, revoked, expired, or not this kind of token.
REFUSED_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "team_access_not_granted",
        "missing_scope",
    }
)

FIXES = {
    "SLACK_BOT_TOKEN": "copy the Bot User OAuth Token (xoxb-…) again from the app's OAuth & Permissions page "
    "(reinstall the app if it was revoked)",
    "SLACK_APP_TOKEN": "copy the app-level token (xapp-…) again from Basic Information → App-Level Tokens, or make "
    "a new one with the connections:write scope",
}


@dataclass(frozen=True)
class TokenAnswer:
    setting: str
    ok: bool
    # Slack refused the token for good (as opposed to: Slack could not be asked).
    refused: bool
    detail: str
    team_id: str = ""  # the bot token's workspace (auth.test), where Slack said


async def ask_slack(settings: Settings) -> list[TokenAnswer]:
    """The bot token (auth.test), and in Socket Mode the app token (apps.connections.open, which only issues a
    websocket address: nothing connects to it)."""
    async with aiohttp.ClientSession() as session:
        client = make_web_client(settings.slack_bot_token, settings.slack_api_url, session)
        answers: list[TokenAnswer] = []
        if not settings.many_workspaces:  # many workspaces: each workspace's token comes from its install
            answers.append(await _ask("SLACK_BOT_TOKEN", settings, client.auth_test))
        if settings.socket_mode:
            answers.append(
                await _ask(
                    "SLACK_APP_TOKEN",
                    settings,
                    lambda: client.apps_connections_open(app_token=settings.slack_app_token),
                )
            )
    return answers


async def _ask(setting: str, settings: Settings, call: Any) -> TokenAnswer:
    try:
        response = await call()
    except SlackApiError as exc:
        data = getattr(exc.response, "data", None)
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if code in REFUSED_TOKEN_ERRORS:
            return TokenAnswer(setting, False, True, f"Slack refused {setting} ({code}): {FIXES[setting]}")
        return TokenAnswer(setting, False, False, f"Slack at {settings.slack_api_url} answered {code or 'an error'}")
    except Exception as exc:  # the network: the SDK raises several types, all meaning Slack was not reached
        return TokenAnswer(
            setting, False, False, f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})"
        )
    data = response.data if isinstance(response.data, dict) else {}
    if setting == "SLACK_BOT_TOKEN":
        return TokenAnswer(
            setting,
            True,
            False,
            f"auth.test ok: bot {data.get('user', '?')} in team {data.get('team_id', '?')}",
            team_id=str(data.get("team_id") or ""),
        )
    return TokenAnswer(setting, True, False, "apps.connections.open ok: Socket Mode can connect")
