"""Issue 25's last gaps: the Perf account's daily cap per key, and what a job keeps of its Grid org."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bot.domain.job import Job
from bot.domain.quotas import ChannelLimits, Day, Limits, QuotaExceeded, Usage, check_usage, day_of
from bot.jobs.workspace_settings import WorkspaceSettings
from bot.runtime.config import load_settings
from storage.db import Store
from storage.secrets import generate_key
from tests.conftest import FakeClock, MakeBot
from tests.fakes.jobs import stored_job
from tests.test_home import ADMIN
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
