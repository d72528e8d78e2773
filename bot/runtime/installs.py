"""Many workspaces (issue 25): the install flow, each workspace's token, and authorization without auth.test.

Built only when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set. Bolt's own `AsyncOAuthFlow` runs the install
(`GET /slack/install`, `GET /slack/oauth_redirect`, served by `bot.runtime.web`) with our stores passed
explicitly: installations sealed in our database (`storage.installations`), the single-use state there too, so
an install begun on one replica completes on another. Its pages' wording is `bot.messages`'.

Authorization: Bolt's default authorize calls `auth.test` on every request (300-500 ms on real Slack). Ours
builds the `AuthorizeResult` from the stored bot (its id and user id were saved at install) through the same
cache the gateway takes tokens from (`InstalledTokens`): no `auth.test` at all, and no query once warm.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.clients.slack_workspaces import InstalledTokens, WorkspaceRef
from bot.domain.settings import Settings
from storage.base import StoreBase
from storage.installations import SlackInstallationStore, SlackOAuthStateStore
from storage.secrets import KeyRing

log = logging.getLogger("videobot.installs")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes of manifest.yml (tests/test_installs.py checks they agree).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "reactions:read",
    "users:read",
    "im:write",
)
# How long a replica trusts a workspace's token it has looked up, when no uninstall reached it (see
# bot.clients.slack_workspaces: Slack refuses a revoked token anyway, and that refusal drops it at once).
TOKEN_CACHE_SECONDS = 60.0
_HTML: dict[str, str | Sequence[str]] = {"Content-Type": "text/html; charset=utf-8"}


class SavedOrBoltError(SlackInstallationStore):
    """Bolt turns only a BoltError from `async_save` into its storage_error page; any other error (the
    database down) would escape the callback as a 500 with a traceback. Nothing is stored either way."""

    async def async_save(self, installation: Installation) -> None:
        try:
            await super().async_save(installation)
        except Exception as exc:
            log.error("event=install_not_saved error=%s", type(exc).__name__)
            raise BoltError(f"the installation could not be saved ({type(exc).__name__})") from None


class CachedAuthorize(AsyncAuthorize):
    """Bolt's authorize for many workspaces, from the installation store through the tokens' cache."""

    def __init__(self, tokens: InstalledTokens) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._tokens = tokens

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        workspace = WorkspaceRef.of_payload(team_id, enterprise_id, context.is_enterprise_install)
        bot = await self._tokens.bot_for(workspace)
        if bot is None or not bot.bot_token:
            return None
        return _result(bot, team_id, user_id)


def _result(bot: Bot, team_id: str | None, user_id: str | None) -> AuthorizeResult:
    return AuthorizeResult(
        enterprise_id=bot.enterprise_id,
        team_id=bot.team_id or team_id,
        bot_user_id=bot.bot_user_id,
        bot_id=bot.bot_id,
        bot_token=bot.bot_token,
        bot_scopes=bot.bot_scopes,
        user_id=user_id,
    )


@dataclass
class Installs:
    """What many-workspaces mode adds to the bot: the stores, the flow, the tokens' cache, the authorize."""

    installations: SlackInstallationStore
    states: SlackOAuthStateStore
    tokens: InstalledTokens
    flow: AsyncOAuthFlow
    authorize: CachedAuthorize


def authorization_url(slack_api_url: str) -> str:
    """Slack's authorize page beside its Web API (https://slack.com/api/ → https://slack.com/oauth/v2/authorize);
    a fake Slack's in tests."""
    return slack_api_url.rstrip("/").removesuffix("/api") + "/oauth/v2/authorize"


def build_installs(settings: Settings, store: StoreBase) -> Installs:
    keys = KeyRing.parse(settings.encryption_key)
    installations = SavedOrBoltError(store, keys)
    states = SlackOAuthStateStore(store)

    async def find_bot(enterprise_id: str | None, team_id: str | None, org_wide: bool) -> Bot | None:
        return await installations.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=org_wide
        )

    tokens = InstalledTokens(find_bot, TOKEN_CACHE_SECONDS)

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        # A reinstall starts clean: nothing cached from before it.
        tokens.forget(installation.enterprise_id, installation.team_id)
        org_wide = bool(installation.is_enterprise_install)
        name = (installation.enterprise_name if org_wide else installation.team_name) or ""
        log.info(
            "event=installed team=%s enterprise=%s org_wide=%s",
            installation.team_id or "-",
            installation.enterprise_id or "-",
            org_wide,
        )
        # No person's language is known in the browser: the deployment's (VIDEOBOT_LANGUAGE).
        with messages.speaking():
            page = messages.install_success_page(name, org_wide=org_wide)
        return BoltResponse(status=200, body=page, headers=_HTML)

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        log.warning("event=install_failed reason=%s", args.reason)
        with messages.speaking():  # the deployment's language (VIDEOBOT_LANGUAGE), as on success
            page = messages.install_failure_page(args.reason, INSTALL_PATH)
        return BoltResponse(status=args.suggested_status_code, body=page, headers=_HTML)

    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri or None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installations,
        state_store=states,
        callback_options=AsyncCallbackOptions(success=success, failure=failure),
        authorization_url=authorization_url(settings.slack_api_url),
        logger=log,
    )
    # Its own client, whose logger stays at WARNING whatever the bot's level: slack_sdk logs each response body
    # at DEBUG, and oauth.v2.access's holds the new workspace's token.
    quiet = logging.getLogger("videobot.installs.slack_sdk")
    quiet.setLevel(logging.WARNING)
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=30, logger=quiet)
    flow = AsyncOAuthFlow(client=client, settings=oauth_settings, logger=log)
    return Installs(installations, states, tokens, flow, CachedAuthorize(tokens))
