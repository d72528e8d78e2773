"""Issue 25's last gaps: the Perf account's daily cap per key, and what a job keeps of its Grid org."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

import pytest

from bot.domain.job import Job, JobState
from bot.domain.quotas import ChannelLimits, Day, Limits, QuotaExceeded, Usage, check_usage, day_of
from bot.jobs.workspace_settings import WorkspaceSettings
from bot.runtime.config import load_settings
from storage.db import Store
from storage.secrets import generate_key
from tests.conftest import Bot, FakeClock, MakeBot, signed_headers
from tests.fakes.jobs import stored_job
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, FakeSlack
from tests.test_home import ADMIN
from tests.test_installs import KEY, Site
from tests.test_installs import site as installs_site
from tests.test_perf_keys import command_from
from tests.test_workspace_settings import admin_bot

TODAY = Day(start=0.0, end=86_400.0, label="1970-01-01")
# VIDEOBOT_ACCOUNT_DAILY_JOBS=2, nothing else limited.
CAP_2 = Limits(0, 0, 0, account_daily_jobs=2)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


def within(limits: Limits, job: Job) -> Callable[[Usage, ChannelLimits | None], None]:
    def check(usage: Usage, own: ChannelLimits | None) -> None:
        check_usage(limits, usage, job.estimated_cost_micros, TODAY)

    return check


def job_of(n: int, team: str, line: str) -> Job:
    return stored_job(id=f"vb_cap{n:09d}", team_id=team, line=line, user_id=f"U{n:08d}", created_at=1000.0 + n)


async def admit(store: Store, job: Job) -> bool:
    return await store.insert_job(job, day=TODAY.bounds, check=within(CAP_2, job), count_account=True)


async def test_the_accounts_daily_cap_counts_each_perf_keys_jobs_apart(store: Store) -> None:
    # Two workspaces on the operator's key fill its cap of 2 between them.
    assert await admit(store, job_of(1, "TSHARED1", ""))
    assert await admit(store, job_of(2, "TSHARED2", ""))
    with pytest.raises(QuotaExceeded):
        await admit(store, job_of(3, "TSHARED1", ""))
    # A workspace paying with its own key has its own 2, whatever the operator's key did.
    assert await admit(store, job_of(4, "TOWNKEY1", "TOWNKEY1"))
    assert await admit(store, job_of(5, "TOWNKEY1", "TOWNKEY1"))
    with pytest.raises(QuotaExceeded):
        await admit(store, job_of(6, "TOWNKEY1", "TOWNKEY1"))
    assert await store.account_usage(0.0, "") == (2, 1001.0)
    assert await store.account_usage(0.0, "TOWNKEY1") == (2, 1004.0)


async def test_one_group_commit_counts_each_keys_cap_apart(store: Store) -> None:
    jobs = [job_of(n, "TSHARED1", "") for n in range(3)] + [job_of(n, "TOWNKEY1", "TOWNKEY1") for n in range(3, 6)]
    results = await asyncio.gather(*(admit(store, job) for job in jobs), return_exceptions=True)
    assert [r is True for r in results].count(True) == 4  # two a key
    assert sum(isinstance(r, QuotaExceeded) for r in results) == 2


# --- each workspace's daily report, time zone and limits --------------------------------------------------


async def test_a_workspaces_reports_go_to_its_admins_channel_at_its_own_time(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    for text in ("admin set report-channel C0REPORTA", "admin set report-time 23:00"):
        assert "now" in await command_from(bot, "T0001", text, user=ADMIN)
    assert await command_from(bot, "T0001", "A lighthouse") == ""
    assert await command_from(bot, "T0002", "A glacier") == ""
    await bot.run_jobs()
    bot.clock.t = day_of(bot.clock.t, "UTC").end + 9 * 3600  # the next day, 09:00 UTC
    # T0002 keeps the operator's 09:00 (and has no workspace report channel); T0001's time is 23:00.
    assert await bot.services.reports.post_due_reports() == 1
    assert not [m for m in bot.slack.roots("C0REPORTA") if "📊" in m.text]
    bot.clock.t += 14 * 3600  # 23:00
    assert await bot.services.reports.post_due_reports() == 2  # T0001's channel, and its workspace summary
    [summary] = [m for m in bot.slack.roots("C0REPORTA") if "📊" in m.text]
    assert "Jobs: 1" in summary.all_text()
    assert await bot.services.reports.post_due_reports() == 0


def test_with_many_workspaces_the_operators_report_channel_is_no_workspaces_default() -> None:
    env = {
        "SLACK_SIGNING_SECRET": "s1gning-secret-value",
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": "c1ient-secret-value",
        "VIDEOBOT_ENCRYPTION_KEY": generate_key(),
        "VIDEOBOT_REPORT_CHANNEL": "C0OPERATOR",
    }
    many = load_settings(env, dotenv_path=None)
    assert many.report_channel == "C0OPERATOR"
    resolver = WorkspaceSettings(many, None, FakeClock())
    assert asyncio.run(resolver.for_team("T0001")).report_channel == ""
    one = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PERF_API_KEY": "pk_test_1"}
        | {"VIDEOBOT_REPORT_CHANNEL": "C0OPERATOR"},
        dotenv_path=None,
    )
    assert asyncio.run(WorkspaceSettings(one, None, FakeClock()).for_team("T0001")).report_channel == "C0OPERATOR"


async def test_quota_shows_the_workspaces_own_limits_and_time_zone(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    for text in ("admin set channel-jobs 3", "admin set timezone Asia/Tokyo"):
        assert "now" in await command_from(bot, "T0001", text, user=ADMIN)
    assert "`timezone` takes a time zone name" in await command_from(
        bot, "T0001", "admin set timezone Mars/Olympus", user=ADMIN
    )
    mine = await command_from(bot, "T0001", "quota")
    other = await command_from(bot, "T0002", "quota")
    assert "Asia/Tokyo" in mine and "Jobs: 0 of 3 used" in mine
    assert "UTC" in other and "Jobs: 0 of 20 used" in other


# --- Enterprise Grid: a job keeps its org ----------------------------------------------------------------

# The bot in many-workspaces mode on its public port (tests/test_installs.py's fixture, under this name).
site = installs_site


async def test_a_job_keeps_its_org_and_an_orgs_unfinished_jobs_are_found_by_it(store: Store) -> None:
    jobs = [
        stored_job(id="vb_org000001", team_id="T0009", enterprise_id="E0001", created_at=1.0),
        stored_job(id="vb_org000002", team_id="T0010", enterprise_id="E0001", created_at=2.0),
        stored_job(id="vb_org000003", team_id="T0011", enterprise_id="E0002", created_at=3.0),
        stored_job(id="vb_org000004", team_id="T0001", created_at=4.0),
    ]
    for job in jobs:
        assert await store.insert_job(job)
    stored = await store.get_job("vb_org000002", team_id=None)
    assert stored is not None and stored.enterprise_id == "E0001"
    assert [job.id for job in await store.unfinished_jobs_of_org("E0001")] == ["vb_org000001", "vb_org000002"]
    assert await store.unfinished_jobs_of_org("") == []
    assert (await store.enterprise_of("T0010"), await store.enterprise_of("T0001")) == ("E0001", "")


def grid_command(site: Site, team_id: str, channel: str, text: str) -> str:
    """`/video …` from a person of a workspace of the Grid org E0001, whose app is installed org-wide."""
    return urlencode(
        {
            "team_id": team_id,
            "enterprise_id": "E0001",
            "is_enterprise_install": "true",
            "channel_id": channel,
            "user_id": "UALICE01",
            "command": "/video",
            "text": text,
            "response_url": site.bot.slack.response_url(),
            "trigger_id": f"1.2.{team_id}.{len(text)}",
        }
    )


async def grid_site(site: Site, fake_slack: FakeSlack) -> None:
    org = fake_slack.add_workspace(None, enterprise_id="E0001", org_wide=True, name="Umbrella")
    fake_slack.add_channel("CUMBRELA", "T0009", enterprise_id="E0001")
    fake_slack.add_channel("CUMBREL2", "T0010", enterprise_id="E0001")
    fake_slack.authorize_as(org)
    status, _page, _ = await site.install()
    assert status == 200


async def post(site: Site, body: str) -> None:
    async with site.session.post(site.url + "/slack/events", data=body, headers=signed_headers(body)) as answer:
        assert answer.status == 200


async def another_process(site: Site, make_bot: MakeBot) -> Bot:
    """The same deployment restarted (or another replica): nothing in memory of the requests so far."""
    return await make_bot(
        slack_bot_token="",
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_redirect_uri=site.url + "/slack/oauth_redirect",
        encryption_key=KEY,
    )


@pytest.mark.unlimited_slack
async def test_a_grid_orgs_jobs_are_delivered_with_its_org_wide_install_after_a_restart(
    site: Site, fake_slack: FakeSlack, make_bot: MakeBot
) -> None:
    await grid_site(site, fake_slack)
    await post(site, grid_command(site, "T0009", "CUMBRELA", "a grid of kites"))
    await post(site, grid_command(site, "T0010", "CUMBREL2", "a grid of boats"))
    assert {(job.team_id, job.enterprise_id) for job in await site.bot.services.store.jobs()} == {
        ("T0009", "E0001"),
        ("T0010", "E0001"),
    }
    # Another process, which never saw a request of the org, does the rest of the work.
    restarted = await another_process(site, make_bot)
    await restarted.run_jobs()
    assert {job.state for job in await restarted.services.store.jobs()} == {JobState.DELIVERED}
    assert fake_slack.roots("CUMBRELA") and fake_slack.roots("CUMBREL2") and fake_slack.cross_workspace == []


@pytest.mark.unlimited_slack
async def test_an_org_wide_uninstall_ends_the_jobs_of_every_workspace_of_the_org(
    site: Site, fake_slack: FakeSlack, make_bot: MakeBot
) -> None:
    await grid_site(site, fake_slack)
    await post(site, grid_command(site, "T0009", "CUMBRELA", "a grid of kites"))
    await post(site, grid_command(site, "T0010", "CUMBREL2", "a grid of boats"))
    # Uninstalled by the org admin (the event names the org), handled by a process that never saw T0010.
    restarted = await another_process(site, make_bot)
    await restarted.services.workspaces.uninstalled("E0001", None, why="app_uninstalled")
    jobs = await site.bot.services.store.jobs()
    assert len(jobs) == 2 and {job.state for job in jobs} == {JobState.FAILED}
    assert all(job.finalized for job in jobs)


async def test_a_workspaces_budget_notice_uses_its_own_budget_and_report_channel(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    for text in ("admin set monthly-budget 4", "admin set report-channel C0REPORTA", "admin set channel-jobs 0"):
        assert "now" in await command_from(bot, "T0001", text, user=ADMIN)
    bot.perf.hold()
    assert await command_from(bot, "T0001", "Here --model veo-3 --duration 6") == ""  # $2.10
    assert await command_from(bot, "T0001", "There --model veo-3 --duration 4") == ""  # $1.40: $3.50, 87%
    await bot.step()
    await bot.services.budgets.wait_idle()
    [notice] = [m.text for m in bot.slack.roots("C0REPORTA") if "budget" in m.text]
    assert "The workspace has used 87% of its monthly videobot budget" in notice
