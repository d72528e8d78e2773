"""Many workspaces (issue 25), end to end: a workspace installs videobot through the install pages (Bolt's
AsyncOAuthFlow with our stores, against the fake Slack's authorize page), then its people's `/video` run with
its own token in its own channels; a failed install says why and stores nothing; an uninstall, in any order
and repeated, ends the workspace's jobs and a reinstall starts clean. On both engines."""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot import messages
from bot.domain.job import JobState
from bot.runtime.installs import BOT_SCOPES
from bot.runtime.web import build_slack_app
from storage.secrets import Workspace, generate_key
from tests.conftest import Bot, MakeBot, signed_headers
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, FakeSlack, FakeWorkspace

KEY = generate_key()
TRIGGERS = itertools.count(1)
COOKIE = "slack-app-oauth-state"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Site:
    """The bot in many-workspaces mode, its public port served on 127.0.0.1, and a browser for it."""

    bot: Bot
    url: str
    session: aiohttp.ClientSession

    async def install(self, *, with_cookie: bool = True) -> tuple[int, str, dict[str, str]]:
        """Install page → Add to Slack → the fake Slack's authorize page → back: the page the person reads.
        Also the callback's query, to replay it."""
        async with self.session.get(self.url + "/slack/install") as page:
            assert page.status == 200
            text = await page.text()
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        assert cookie.startswith(f"{COOKIE}=")
        found = re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', text)
        assert found, "the install page links to Slack's authorize page"
        async with self.session.get(html.unescape(found.group(1)), allow_redirects=False) as slack:
            assert slack.status == 302
            back = slack.headers["Location"]
        assert back.startswith(self.url + "/slack/oauth_redirect?")
        return (*await self.open(back, cookie if with_cookie else ""), {"url": back, "cookie": cookie})

    async def open(self, url: str, cookie: str = "") -> tuple[int, str]:
        headers = {"Cookie": cookie} if cookie else {}
        async with self.session.get(url, headers=headers, allow_redirects=False) as page:
            return page.status, await page.text()

    async def command(self, text: str, workspace: FakeWorkspace, channel: str, user: str = "UALICE01") -> Any:
        """`/video …` from a person of `workspace`, signed, over HTTP (the bot's own fast path)."""
        body = urlencode(
            {
                "team_id": workspace.team_id or "",
                "enterprise_id": workspace.enterprise_id or "",
                "is_enterprise_install": "false",
                "channel_id": channel,
                "user_id": user,
                "command": "/video",
                "text": text,
                "response_url": self.bot.slack.response_url(),
                "trigger_id": f"1.2.{next(TRIGGERS)}",  # each command its own: the same body twice is a replay
                "api_app_id": "A0VIDEOBOT",
            }
        )
        async with self.session.post(self.url + "/slack/events", data=body, headers=signed_headers(body)) as answer:
            assert answer.status == 200
            return json.loads(await answer.text() or "{}")

    async def event(self, event: dict[str, Any], event_id: str, team_id: str, **envelope: Any) -> int:
        body = json.dumps(
            {
                "team_id": team_id,
                "api_app_id": "A0VIDEOBOT",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": 1700000999,
                **envelope,
            }
        )
        headers = signed_headers(body, content_type="application/json")
        async with self.session.post(self.url + "/slack/events", data=body, headers=headers) as answer:
            return answer.status


@pytest.fixture
async def site(make_bot: MakeBot, fake_slack: FakeSlack) -> AsyncIterator[Site]:
    async with serving(make_bot) as served:
        yield served


@contextlib.asynccontextmanager
async def serving(make_bot: MakeBot, **settings: Any) -> AsyncIterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bot = await make_bot(
        slack_bot_token="",
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_redirect_uri=url + "/slack/oauth_redirect",
        encryption_key=KEY,
        # One job at Perf at a time: a second job waits in line, certainly not sent, while the first is there.
        max_concurrent_jobs=1,
        **settings,
    )
    runner = web.AppRunner(build_slack_app(bot.services, bot.bolt))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as session:
        yield Site(bot, url, session)
    await runner.cleanup()


def stored_installs(site: Site) -> Any:
    assert site.bot.services.installs is not None
    return site.bot.services.installs.installations


@pytest.mark.unlimited_slack
async def test_a_workspace_installs_then_its_people_make_videos_with_its_own_token(
    site: Site, fake_slack: FakeSlack
) -> None:
    globex = fake_slack.add_workspace("T0002", name="Globex")
    initech = fake_slack.add_workspace("T0003", name="Initech")
    fake_slack.add_channel("CGLOBEX1", "T0002")
    fake_slack.add_channel("CINITECH", "T0003")

    # Not installed yet: a clear answer, nothing stored.
    answer = await site.command("a paper boat", globex, "CGLOBEX1")
    assert "not installed" in answer["text"]
    assert await site.bot.services.store.jobs() == []

    for workspace in (globex, initech):
        fake_slack.authorize_as(workspace, installer="U0042")
        status, page, _ = await site.install()
        assert status == 200
        assert "videobot is installed" in page and workspace.name in page
        assert "Perf API key" in page and "/video" in page
    assert fake_slack.installs == [("T0002", "U0042"), ("T0003", "U0042")]
    auth_tests = fake_slack.call_count("auth.test")

    await site.command("a paper boat", globex, "CGLOBEX1")
    await site.command("a red kite", initech, "CINITECH")
    await site.bot.run_jobs()
    jobs = {job.team_id: job for job in await site.bot.services.store.jobs()}
    assert jobs["T0002"].state == JobState.DELIVERED and jobs["T0003"].state == JobState.DELIVERED
    # Each workspace's messages went in with its own token: the fake refuses a channel another workspace's
    # token cannot see, and none was refused.
    assert fake_slack.cross_workspace == []
    assert fake_slack.roots("CGLOBEX1") and fake_slack.roots("CINITECH")
    # Authorization and every later call took the stored bot: not one auth.test after the installs.
    assert fake_slack.call_count("auth.test") == auth_tests


@pytest.mark.unlimited_slack
async def test_a_failed_install_says_why_links_to_try_again_and_stores_nothing(
    site: Site, fake_slack: FakeSlack
) -> None:
    globex = fake_slack.add_workspace("T0002", name="Globex")
    fake_slack.authorize_as(globex)

    fake_slack.deny_next_install = True
    status, page, _ = await site.install()
    assert "was not installed" in page and "cancelled" in page and "Nothing was saved" in page
    assert 'href="/slack/install"' in page and "Try again" in page

    # A missing cookie (another browser), then the good one, then the same callback again (replayed).
    status, page, callback = await site.install(with_cookie=False)
    assert status == 400 and "another browser" in page
    assert await stored_installs(site).async_find_bot(enterprise_id=None, team_id="T0002") is None
    status, page = await site.open(callback["url"], callback["cookie"])
    assert status == 200 and "videobot is installed" in page
    status, page = await site.open(callback["url"], callback["cookie"])
    assert status == 401 and "expired or was already used" in page

    # A forged state with a cookie to match it.
    forged = re.sub(r"state=[^&]+", "state=forged", callback["url"])
    status, page = await site.open(forged, f"{COOKIE}=forged")
    assert status == 401 and "was not installed" in page
    assert len(fake_slack.installs) == 1


@pytest.mark.unlimited_slack
async def test_the_install_pages_and_the_not_installed_answer_speak_the_deployments_language(
    make_bot: MakeBot, fake_slack: FakeSlack
) -> None:
    """No person's language is known in the browser, nor for a workspace with no installation: they are in
    VIDEOBOT_LANGUAGE's. The words are translated, then escaped: a workspace's name stays text, not markup."""
    try:
        async with serving(make_bot, language="de") as site:
            globex = fake_slack.add_workspace("T0002", name="<b>Globex</b> & Co")
            fake_slack.add_channel("CGLOBEX1", "T0002")
            answer = await site.command("a paper boat", globex, "CGLOBEX1")
            assert answer["text"].startswith("videobot ist in diesem Workspace nicht installiert")

            fake_slack.authorize_as(globex)
            fake_slack.deny_next_install = True
            status, page, _ = await site.install()
            assert '<html lang="de">' in page and "<title>videobot wurde nicht installiert</title>" in page
            assert "Nichts wurde gespeichert." in page and ">Noch einmal versuchen</a>" in page

            status, page, _ = await site.install()
            assert status == 200 and '<html lang="de">' in page
            assert "<p>videobot ist in <strong>&lt;b&gt;Globex&lt;/b&gt; &amp; Co</strong> installiert.</p>" in page
            assert "<code>/video ein Papierboot auf einer verregneten Straße</code>" in page
    finally:
        messages.configure("en")  # VIDEOBOT_LANGUAGE is read into the messages package: back for other tests


@pytest.mark.unlimited_slack
async def test_a_database_error_while_saving_ends_on_the_failure_page(
    site: Site, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.installations import SlackInstallationStore

    async def broken(self: object, installation: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(SlackInstallationStore, "async_save", broken)
    fake_slack.authorize_as(fake_slack.add_workspace("T0002"))
    status, page, _ = await site.install()
    assert status == 500 and "could not save the install" in page and "Try again" in page


@pytest.mark.unlimited_slack
@pytest.mark.parametrize("order", [("app_uninstalled", "tokens_revoked"), ("tokens_revoked", "app_uninstalled")])
async def test_an_uninstall_in_either_order_ends_the_workspaces_jobs_and_a_reinstall_starts_clean(
    site: Site, fake_slack: FakeSlack, order: tuple[str, str]
) -> None:
    globex = fake_slack.add_workspace("T0002", name="Globex")
    fake_slack.add_channel("CGLOBEX1", "T0002")
    fake_slack.authorize_as(globex)
    await site.install()
    bot, perf = site.bot, site.bot.perf

    # One job at Perf (held there), one waiting in line for the only slot, not sent.
    perf.hold()
    await site.command("at perf", globex, "CGLOBEX1")
    await bot.step()
    await bot.step()
    [at_perf] = await bot.services.store.jobs()
    assert at_perf.perf_job_id is not None
    creates = len(perf.creates)
    await site.command("never sent", globex, "CGLOBEX1")
    keys = bot.services.jobs.keys
    assert keys is not None and keys.workspaces is not None
    await keys.workspaces.set_perf_key(
        Workspace(enterprise_id=None, team_id="T0002"), "pk_live_globex", set_by="UALICE01", now=1.0
    )

    fake_slack.uninstall(globex)
    events: dict[str, dict[str, Any]] = {
        "app_uninstalled": {"type": "app_uninstalled"},
        "tokens_revoked": {"type": "tokens_revoked", "tokens": {"bot": [globex.bot_user_id]}},
    }
    for n, kind in enumerate((*order, *order)):  # each twice: redelivered
        assert await site.event(events[kind], f"Ev{n}", "T0002") == 200

    assert await stored_installs(site).async_find_bot(enterprise_id=None, team_id="T0002") is None
    assert await keys.workspaces.perf_key("T0002") is None  # its Perf key went with its tokens
    ended = {job.prompt: job for job in await bot.services.store.jobs()}
    assert ended["never sent"].state == JobState.FAILED and "before this job was sent" in str(
        ended["never sent"].error_message
    )
    assert ended["at perf"].state == JobState.FAILED and "could not be delivered" in str(ended["at perf"].error_message)
    assert all(job.finalized and job.next_poll_at is None for job in ended.values())
    polls = len(perf.polls)
    perf.release()
    bot.clock.advance(3600)
    await bot.run_jobs()
    assert len(perf.creates) == creates and len(perf.polls) == polls  # never sent, no longer polled
    answer = await site.command("after", globex, "CGLOBEX1")
    assert "not installed" in answer["text"]

    # Installed again: works from the first command.
    fake_slack.authorize_as(globex)
    status, page, _ = await site.install()
    assert "videobot is installed" in page
    assert status == 200
    await site.command("again", globex, "CGLOBEX1")
    await bot.run_jobs()
    again = [job for job in await bot.services.store.jobs() if job.prompt == "again"]
    assert [job.state for job in again] == [JobState.DELIVERED]


@pytest.mark.unlimited_slack
async def test_an_org_wide_install_serves_the_orgs_workspaces(site: Site, fake_slack: FakeSlack) -> None:
    org = fake_slack.add_workspace(None, enterprise_id="E0001", org_wide=True, name="Umbrella")
    fake_slack.add_channel("CUMBRELA", "T0009", enterprise_id="E0001")
    fake_slack.authorize_as(org)
    status, page, _ = await site.install()
    assert status == 200 and "organisation" in page and "Org E0001" in page

    body = urlencode(
        {
            "team_id": "T0009",
            "enterprise_id": "E0001",
            "is_enterprise_install": "true",
            "channel_id": "CUMBRELA",
            "user_id": "UALICE01",
            "command": "/video",
            "text": "a grid of kites",
            "response_url": fake_slack.response_url(),
            "trigger_id": "1.2.3",
        }
    )
    async with site.session.post(site.url + "/slack/events", data=body, headers=signed_headers(body)) as answer:
        assert answer.status == 200
    await site.bot.run_jobs()
    [job] = await site.bot.services.store.jobs()
    assert job.state == JobState.DELIVERED and job.team_id == "T0009"
    assert fake_slack.roots("CUMBRELA") and fake_slack.cross_workspace == []

    # The org admin takes the app away from that workspace: its unfinished jobs end; the org's install stays.
    event = {"type": "team_access_revoked", "team_ids": ["T0009"]}
    assert await site.event(event, "EvGrid", "T0009", enterprise_id="E0001", is_enterprise_install=True) == 200
    assert (
        await stored_installs(site).async_find_bot(enterprise_id="E0001", team_id=None, is_enterprise_install=True)
        is not None
    )


def test_the_install_asks_for_the_manifests_bot_scopes() -> None:
    import yaml

    with open("manifest.yml") as file:
        manifest = yaml.safe_load(file)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


@pytest.mark.unlimited_slack
async def test_bolts_way_in_is_authorized_from_the_store_without_auth_test_after_warm_up(
    site: Site, fake_slack: FakeSlack
) -> None:
    """Socket Mode's requests (and every interaction and event over HTTP) go through Bolt's authorize: ours
    takes the stored bot, so no auth.test per request; an uninstalled workspace gets Bolt's reinstall answer."""
    refused = await site.bot.command("before install")
    assert refused.status == 200
    [(_, told)] = fake_slack.responses
    assert "videobot is not installed in this workspace" in told["text"]
    assert await site.bot.services.store.jobs() == []

    await site.install()  # the fake's default workspace, T0001
    await site.bot.command("warm up")
    await site.bot.run_jobs()
    warm = fake_slack.call_count("auth.test")
    for n in range(8):
        await site.bot.command(f"a boat {n}")
    await site.bot.run_jobs()
    jobs = await site.bot.services.store.jobs()
    assert len(jobs) == 9 and {job.state for job in jobs} == {JobState.DELIVERED}
    assert fake_slack.call_count("auth.test") == warm


@pytest.mark.unlimited_slack
async def test_in_socket_mode_the_port_serves_the_install_pages_and_not_slacks_events(site: Site) -> None:
    """Socket Mode with many workspaces: events over the socket, the install pages over HTTP on PORT."""
    port = free_port()
    runner = web.AppRunner(build_slack_app(site.bot.services, site.bot.bolt, events=False))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with site.session.get(f"http://127.0.0.1:{port}/slack/install") as page:
            assert page.status == 200 and "/oauth/v2/authorize" in await page.text()
        body = "command=/video&text=hi"
        async with site.session.post(
            f"http://127.0.0.1:{port}/slack/events", data=body, headers=signed_headers(body)
        ) as events:
            assert events.status in (404, 405)
    finally:
        await runner.cleanup()
