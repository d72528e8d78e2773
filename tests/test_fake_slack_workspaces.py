"""The fake Slack's many workspaces (issue 25), as real Slack behaves: a code is traded once for its
workspace's bot token, each token is its own workspace's (auth.test, channels, rate limits), and the
authorize page sends the browser back with a code and the state. Talked to with the real slack_sdk client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, INSTALLER_ID, TEAM_ID, FakeSlack

REDIRECT_URI = "https://videobot.example/slack/oauth_redirect"
# slack_sdk logs each response body at DEBUG, oauth.v2.access's token included (the bot keeps slack_sdk at
# WARNING, bot/runtime/logs.py): these clients do the same, or the suite's no-secret-in-any-log check fails.
QUIET = logging.getLogger("tests.fake_slack_workspaces.client")
QUIET.setLevel(logging.WARNING)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    # Slack's limits on, with a clock so slow that nothing refills during a test: a bucket holds its burst.
    fake = FakeSlack(limits=True, speed=1e-9)
    await fake.start()
    yield fake
    await fake.stop()


def client(fake: FakeSlack, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.base_url + "/api/", retry_handlers=[], logger=QUIET)


async def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as failed:
        await call  # type: ignore[misc]
    return str(failed.value.response["error"])


async def test_a_code_is_traded_once_for_its_workspaces_bot_token(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002", name="Globex")
    code = slack.issue_code(globex, installer="U0042")
    app = client(slack)
    answer = await app.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    assert answer["access_token"] == globex.bot_token != BOT_TOKEN
    assert answer["access_token"].startswith("xoxb-")
    assert answer["team"] == {"id": "T0002", "name": "Globex"} and answer["enterprise"] is None
    assert answer["authed_user"]["id"] == "U0042" and answer["bot_user_id"] == globex.bot_user_id
    assert slack.installs == [("T0002", "U0042")]

    # Used once: a second trade, an unknown code or another app's credentials are refused as Slack does.
    assert await error_of(app.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)) == (
        "invalid_code"
    )
    unknown = app.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="9.never-given")
    assert await error_of(unknown) == "invalid_code"
    fresh = slack.issue_code(globex)
    wrong_secret = app.oauth_v2_access(client_id=CLIENT_ID, client_secret="not-the-secret", code=fresh)
    assert await error_of(wrong_secret) == "bad_client_secret"
    assert await error_of(app.oauth_v2_access(client_id="9999.9999", client_secret=CLIENT_SECRET, code=fresh)) == (
        "invalid_client_id"
    )


async def test_an_org_wide_install_has_an_enterprise_and_no_team(slack: FakeSlack) -> None:
    org = slack.add_workspace(None, enterprise_id="E0001", org_wide=True)
    answer = await client(slack).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=slack.issue_code(org)
    )
    assert answer["team"] is None and answer["is_enterprise_install"] is True
    assert answer["enterprise"]["id"] == "E0001" and answer["access_token"] == org.bot_token


async def test_auth_test_answers_for_each_token(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002")
    grid_team = slack.add_workspace("T0003", enterprise_id="E0001")
    org = slack.add_workspace(None, enterprise_id="E0002", org_wide=True)

    default = await client(slack, BOT_TOKEN).auth_test()
    assert (default["team_id"], default["user_id"], default.get("enterprise_id")) == (TEAM_ID, "UBOT0001", None)
    assert default["is_enterprise_install"] is False

    own = await client(slack, globex.bot_token).auth_test()
    assert (own["team_id"], own["user_id"], own["bot_id"]) == ("T0002", globex.bot_user_id, globex.bot_id)
    assert own["user_id"] != default["user_id"]

    in_grid = await client(slack, grid_team.bot_token).auth_test()
    assert (in_grid["team_id"], in_grid["enterprise_id"]) == ("T0003", "E0001")

    org_wide = await client(slack, org.bot_token).auth_test()
    assert "team_id" not in org_wide and org_wide["enterprise_id"] == "E0002" and org_wide["is_enterprise_install"]

    assert await error_of(client(slack, "xoxb-never-issued").auth_test()) == "invalid_auth"


async def test_a_token_naming_another_workspaces_channel_is_refused(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002")
    slack.add_channel("CACME", TEAM_ID)
    slack.add_channel("CGLOBEX", "T0002")
    slack.add_channel("CSHARED", TEAM_ID, "T0002")  # Slack Connect: in both workspaces
    acme_bot, globex_bot = client(slack, BOT_TOKEN), client(slack, globex.bot_token)

    assert (await acme_bot.chat_postMessage(channel="CACME", text="hello"))["ok"]
    assert await error_of(globex_bot.chat_postMessage(channel="CACME", text="not yours")) == "channel_not_found"
    assert await error_of(acme_bot.chat_postEphemeral(channel="CGLOBEX", user="U1", text="no")) == ("channel_not_found")
    for bot in (acme_bot, globex_bot):
        assert (await bot.chat_postMessage(channel="CSHARED", text="both may"))["ok"]
        # A channel no test placed in a workspace is everyone's: the single-workspace tests' default.
        assert (await bot.chat_postMessage(channel="CANYWHERE", text="as before"))["ok"]
    assert slack.cross_workspace == [("chat.postMessage", "CACME", "T0002"), ("chat.postEphemeral", "CGLOBEX", TEAM_ID)]
    assert [m.text for m in slack.roots("CACME")] == ["hello"]


async def test_an_org_wide_token_sees_its_orgs_channels_only(slack: FakeSlack) -> None:
    org = slack.add_workspace(None, enterprise_id="E0001", org_wide=True)
    slack.add_channel("CINORG", "T0101", enterprise_id="E0001")
    slack.add_channel("COTHERORG", "T0201", enterprise_id="E0002")
    bot = client(slack, org.bot_token)
    assert (await bot.chat_postMessage(channel="CINORG", text="granted"))["ok"]
    assert await error_of(bot.chat_postMessage(channel="COTHERORG", text="no")) == "channel_not_found"


async def test_an_uninstalled_workspaces_token_is_revoked_until_it_installs_again(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002")
    slack.uninstall(globex)
    assert await error_of(client(slack, globex.bot_token).auth_test()) == "token_revoked"
    assert (await client(slack, BOT_TOKEN).auth_test())["ok"]  # the others are untouched
    await client(slack).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=slack.issue_code(globex))
    assert (await client(slack, globex.bot_token).auth_test())["team_id"] == "T0002"


async def test_rate_limits_are_per_workspace(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002")
    acme_bot, globex_bot = client(slack, BOT_TOKEN), client(slack, globex.bot_token)
    burst = 8  # chat.update is tier 3: a burst of 8
    for _ in range(burst):
        assert await error_of(acme_bot.chat_update(channel="C1", ts="1.1", text="x")) == "message_not_found"
    assert await error_of(acme_bot.chat_update(channel="C1", ts="1.1", text="x")) == "ratelimited"
    # The busy workspace does not slow another.
    assert await error_of(globex_bot.chat_update(channel="C1", ts="1.1", text="x")) == "message_not_found"
    assert slack.rate_limited == [("chat.update", "")]


async def follow_authorize(slack: FakeSlack, **query: str) -> tuple[int, str, dict[str, list[str]]]:
    """A browser on the authorize page: its status, and where it is sent back with what."""
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(f"{slack.authorize_url()}?{urlencode(query)}", allow_redirects=False) as page,
    ):
        location = page.headers.get("Location", "")
        return page.status, location.split("?", 1)[0], parse_qs(urlsplit(location).query)


async def test_the_authorize_page_sends_the_browser_back_with_a_code_and_the_state(slack: FakeSlack) -> None:
    globex = slack.add_workspace("T0002")
    query = {"client_id": CLIENT_ID, "scope": "commands,chat:write", "state": "s-123", "redirect_uri": REDIRECT_URI}

    # Until told otherwise, the person installs into the default workspace.
    status, back_to, sent = await follow_authorize(slack, **query)
    assert (status, back_to, sent["state"]) == (302, REDIRECT_URI, ["s-123"])
    answer = await client(slack).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=sent["code"][0], redirect_uri=REDIRECT_URI
    )
    assert answer["access_token"] == BOT_TOKEN and answer["authed_user"]["id"] == INSTALLER_ID

    slack.authorize_as(globex, installer="U0042")
    _, _, sent = await follow_authorize(slack, **query)
    answer = await client(slack).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=sent["code"][0], redirect_uri=REDIRECT_URI
    )
    assert (answer["access_token"], answer["authed_user"]["id"]) == (globex.bot_token, "U0042")

    # Cancel: back with Slack's error and the state, no code.
    slack.deny_next_install = True
    status, back_to, sent = await follow_authorize(slack, **query)
    assert (status, back_to, sent) == (302, REDIRECT_URI, {"error": ["access_denied"], "state": ["s-123"]})

    # Another app's client id, or nowhere to go back to: Slack's own error page, no redirect.
    assert (await follow_authorize(slack, **{**query, "client_id": "9999.9999"}))[0] == 400
    assert (await follow_authorize(slack, **{**query, "redirect_uri": "javascript:alert(1)"}))[0] == 400
