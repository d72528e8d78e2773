"""The foundations of many workspaces (issue 25) fit Bolt's own install flow, before any of it is wired into
the bot: Bolt's AsyncOAuthFlow, with our installation and state stores, against the fake Slack's authorize
page and oauth.v2.access. An install begun on one replica completes on another; a replayed, forged or
cookieless callback stores nothing. On both engines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from storage.db import Store
from storage.installations import SlackInstallationStore, SlackOAuthStateStore
from storage.secrets import KeyRing, generate_key
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, FakeSlack

REDIRECT_URI = "https://videobot.example/slack/oauth_redirect"
COOKIE = "slack-app-oauth-state"
KEYS = KeyRing.parse(generate_key())
# slack_sdk logs each response body at DEBUG, oauth.v2.access's token included: kept at WARNING, as the bot does.
QUIET = logging.getLogger("tests.oauth_pieces.client")
QUIET.setLevel(logging.WARNING)


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' stores on one database."""
    first = await Store.open(database_url)
    second = await Store.open(database_url)
    yield first, second
    await second.close()
    await first.close()


def oauth_flow(store: Store, slack: FakeSlack) -> AsyncOAuthFlow:
    settings = AsyncOAuthSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=["commands", "chat:write"],
        installation_store=SlackInstallationStore(store, KEYS),
        state_store=SlackOAuthStateStore(store),
        authorization_url=slack.authorize_url(),
        redirect_uri=REDIRECT_URI,
        install_page_rendering_enabled=False,
        logger=QUIET,
    )
    return AsyncOAuthFlow(client=AsyncWebClient(base_url=slack.base_url + "/api/", logger=QUIET), settings=settings)


def header(response: object, name: str) -> str:
    values = getattr(response, "headers", {}).get(name.lower()) or [""]
    return str(values[0])


async def begin_install(flow: AsyncOAuthFlow, slack: FakeSlack) -> tuple[str, dict[str, list[str]]]:
    """/slack/install, then Slack's authorize page: the browser's state cookie, and what it brings back."""
    started = await flow.handle_installation(AsyncBoltRequest(body="", query="", headers={}))
    assert started.status == 302
    location = header(started, "Location")
    assert location.startswith(slack.authorize_url())
    cookie = header(started, "Set-Cookie").split(";", 1)[0]
    assert cookie.startswith(f"{COOKIE}=")
    async with aiohttp.ClientSession() as browser, browser.get(location, allow_redirects=False) as page:
        assert page.status == 302
        back = page.headers["Location"]
    assert back.startswith(REDIRECT_URI)
    return cookie, parse_qs(urlsplit(back).query)


async def callback(flow: AsyncOAuthFlow, query: dict[str, list[str]], cookie: str | None) -> int:
    headers: dict[str, str | Sequence[str]] = {"cookie": cookie} if cookie else {}
    answer = await flow.handle_callback(
        AsyncBoltRequest(body="", query=urlencode({k: v[0] for k, v in query.items()}), headers=headers)
    )
    return answer.status


@pytest.mark.unlimited_slack
async def test_an_install_begun_on_one_replica_completes_on_another_and_only_once(
    replicas: tuple[Store, Store], fake_slack: FakeSlack
) -> None:
    first, second = replicas
    globex = fake_slack.add_workspace("T0002", name="Globex")
    fake_slack.authorize_as(globex, installer="U0042")
    cookie, back = await begin_install(oauth_flow(first, fake_slack), fake_slack)

    other = oauth_flow(second, fake_slack)
    assert await callback(other, back, cookie) == 200
    bot = await SlackInstallationStore(first, KEYS).async_find_bot(enterprise_id=None, team_id="T0002")
    assert bot is not None and bot.bot_token == globex.bot_token and bot.bot_id == globex.bot_id
    installer = await SlackInstallationStore(first, KEYS).async_find_installation(enterprise_id=None, team_id="T0002")
    assert installer is not None and installer.user_id == "U0042" and installer.team_name == "Globex"

    # The same callback again (a reload, a replay): the state is spent, nothing is stored again.
    assert fake_slack.installs == [("T0002", "U0042")]
    assert await callback(other, back, cookie) == 401
    assert fake_slack.installs == [("T0002", "U0042")]


@pytest.mark.unlimited_slack
async def test_a_forged_or_cookieless_callback_stores_nothing(
    replicas: tuple[Store, Store], fake_slack: FakeSlack
) -> None:
    first, _ = replicas
    flow = oauth_flow(first, fake_slack)
    cookie, back = await begin_install(flow, fake_slack)
    # No cookie: another browser than the one that began.
    assert await callback(flow, back, None) == 400
    # A state we never issued, with a cookie to match it.
    forged = {**back, "state": ["forged-state"]}
    assert await callback(flow, forged, f"{COOKIE}=forged-state") == 401
    assert fake_slack.installs == []
    assert await SlackInstallationStore(first, KEYS).async_find_bot(enterprise_id=None, team_id="T0001") is None
    # The real browser still completes (the failed attempts did not spend its state).
    assert await callback(flow, back, cookie) == 200
    assert await SlackInstallationStore(first, KEYS).async_find_bot(enterprise_id=None, team_id="T0001") is not None
