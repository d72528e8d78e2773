"""A workspace's own retention (issue 25): its admins may keep its detail for less time than the operator does
(`/video admin set retention-days`), the maintenance run deletes each workspace's detail past its own window,
and a workspace that removed videobot has its whole history deleted once that window has passed since, unless
it installed videobot again. On both engines."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.domain import workspace_settings
from bot.domain.job import JobState
from bot.domain.settings import Settings
from bot.jobs.maintenance import DAY_SECONDS
from storage.db import Store
from tests.conftest import Bot, MakeBot
from tests.fakes.slack import FakeSlack, FakeWorkspace
from tests.test_home import ADMIN
from tests.test_installs import Site
from tests.test_installs import site as installs_site
from tests.test_perf_keys import command_from
from tests.test_workspace_settings import ENCRYPTION_KEY, admin_bot

site = installs_site


async def events_of(store: Store, prompt: str) -> int:
    [job] = [job for job in await store.jobs() if job.prompt == prompt]
    return len(await store.job_events(job.id))


async def rows_of(store: Store, table: str, team: str) -> int:
    return int(await store._db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE team_id = ?", team))


async def detail(bot: Bot, team: str, prompt: str) -> None:
    """A job run to delivery (its events), an App Home viewer and a report claim of `team`, all at `now`."""
    assert await command_from(bot, team, prompt) == ""
    await bot.run_jobs()
    store, now = bot.services.store, bot.clock.now()
    await store.home_opened(team, f"U{prompt[:6].upper()}", now)
    assert await store.claim_report(team, "channel", "C0REPORTS", f"day-{prompt}", now)


async def test_a_workspaces_shorter_window_deletes_its_old_detail_and_not_anothers(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="videobot.maintenance")
    bot = await admin_bot(make_bot)  # the operator keeps 400 days
    store = bot.services.store
    answer = await command_from(bot, "T0001", "admin set retention-days 30", user=ADMIN)
    assert answer == "`retention-days` is now 30 days in this workspace."
    await detail(bot, "T0001", "Old acme")
    await detail(bot, "T0002", "Old globex")
    bot.clock.advance(31 * DAY_SECONDS)
    await detail(bot, "T0001", "Young acme")

    deleted = await bot.services.maintenance.run()

    # T0001's detail older than 30 days is gone, its young detail and every job stay.
    assert await events_of(store, "Old acme") == 0
    assert await events_of(store, "Young acme") > 0
    assert await rows_of(store, "home_viewers", "T0001") == 1 and await rows_of(store, "daily_reports", "T0001") == 1
    # T0002 keeps the operator's 400 days.
    assert await events_of(store, "Old globex") > 0
    assert await rows_of(store, "home_viewers", "T0002") == 1 and await rows_of(store, "daily_reports", "T0002") == 1
    assert len(await store.jobs()) == 3
    assert deleted["home_viewers"] == deleted["daily_reports"] == 1 and deleted["job_events"] > 0
    assert "event=retention_done team=T0001 retention_days=30 job_events=" in caplog.text
    assert "team=T0002" not in caplog.text

    # The next run starts where this one stopped, and still finds the young job once it is past 30 days.
    bot.clock.advance(31 * DAY_SECONDS)
    await bot.services.maintenance.run()
    assert await events_of(store, "Young acme") == 0
    assert await events_of(store, "Old globex") > 0
    # Back to the operator's window: nothing more of T0001 goes before 400 days.
    assert "back to the default: 400 days" in await command_from(bot, "T0001", "admin unset retention-days", user=ADMIN)
    await detail(bot, "T0001", "Kept acme")
    bot.clock.advance(40 * DAY_SECONDS)
    await bot.services.maintenance.run()
    assert await events_of(store, "Kept acme") > 0


async def test_a_job_still_under_way_keeps_its_events_until_it_is_past_the_window(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    store = bot.services.store
    await command_from(bot, "T0001", "admin set retention-days 7", user=ADMIN)
    bot.perf.hold()
    assert await command_from(bot, "T0001", "A slow heron") == ""
    await bot.step()
    await bot.step()
    bot.clock.advance(8 * DAY_SECONDS)
    await bot.services.maintenance.run()
    [job] = await store.jobs()
    assert not job.finalized
    # Its first steps are past the window and went; the job is not forgotten by the next runs: it ends (past
    # its timeout) with steps of its own after this run's mark.
    left = await events_of(store, "A slow heron")
    bot.perf.release()
    await bot.run_jobs()
    assert (await store.jobs())[0].finalized
    assert await events_of(store, "A slow heron") > left
    bot.clock.advance(8 * DAY_SECONDS)
    await bot.services.maintenance.run()
    assert await events_of(store, "A slow heron") == 0


@pytest.mark.parametrize(
    ("operator", "text", "answer"),
    [
        (
            400,
            "3",
            "a number of days from 7 to 400 (no longer than whoever runs videobot keeps it), or 0 for their 400",
        ),
        (400, "500", "a number of days from 7 to 400"),
        (400, "a month", "a number of days from 7 to 400"),
        (0, "6", "a number of days, at least 7 (such as 90)"),
    ],
)
async def test_a_bad_retention_is_answered_and_nothing_is_stored(
    make_bot: MakeBot, operator: int, text: str, answer: str
) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY, retention_days=operator)
    bot.slack.add_user(ADMIN, is_admin=True)
    said = await command_from(bot, "T0001", f"admin set retention-days {text}", user=ADMIN)
    assert said.startswith("`retention-days` takes ") and answer in said
    assert "retention-days" not in await bot.services.jobs.settings_for.overrides("T0001")


async def test_a_bad_retention_is_answered_in_the_persons_language(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    bot.slack.add_user(ADMIN, is_admin=True, locale="de-DE")
    await command_from(bot, "T0001", "admin", user=ADMIN)  # (a new person: their language is learnt meanwhile)
    await bot.services.people.wait_idle()
    said = await command_from(bot, "T0001", "admin set retention-days 1000", user=ADMIN)
    assert said == (
        "`retention-days` erwartet eine Anzahl von Tagen von 7 bis 400 (nicht länger, als die Person, die videobot "
        "betreibt, sie aufbewahrt), oder 0 für deren 400."
    )


async def test_where_the_operator_keeps_everything_a_workspace_may_keep_any_week_or_more(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY, retention_days=0)
    bot.slack.add_user(ADMIN, is_admin=True)
    assert "`retention-days` is now 5,000 days" in await command_from(
        bot, "T0001", "admin set retention-days 5000", user=ADMIN
    )
    shown = await command_from(bot, "T0002", "admin")
    assert "`retention-days`: everything kept." in shown
    await command_from(bot, "T0001", "admin set retention-days 7", user=ADMIN)
    await detail(bot, "T0001", "Acme heron")
    await detail(bot, "T0002", "Globex heron")
    bot.clock.advance(8 * DAY_SECONDS)
    await bot.services.maintenance.run()
    assert await events_of(bot.services.store, "Acme heron") == 0
    assert await events_of(bot.services.store, "Globex heron") > 0


async def test_admin_help_and_app_home_show_the_retention_that_applies(make_bot: MakeBot) -> None:
    from tests.test_home import home_opened, text_of

    bot = await admin_bot(make_bot)
    shown = await command_from(bot, "T0001", "admin")
    assert "`retention-days`: 400 days. How long the detail of this workspace's jobs is kept" in shown
    assert "now 400 days" in await command_from(bot, "T0001", "admin set retention-days 0", user=ADMIN)
    await command_from(bot, "T0001", "admin set retention-days 90", user=ADMIN)
    assert "`retention-days`: 90 days (this workspace)" in await command_from(bot, "T0001", "help")
    assert "retention-days" not in await command_from(bot, "T0002", "help")
    await bot.event(home_opened(ADMIN))
    assert "`retention-days`: 90 days (this workspace)" in text_of(bot.slack.homes[ADMIN][-1])


def test_a_workspaces_window_never_outlasts_the_operators() -> None:
    operator = Settings(slack_bot_token="x", perf_api_key="y", retention_days=30)
    # Set when the operator kept 400; the operator has shortened since: the operator's 30 holds.
    assert workspace_settings.effective(operator, {"retention-days": "90"}).retention_days == 30
    assert workspace_settings.effective(operator, {"retention-days": "10"}).retention_days == 10
    assert workspace_settings.effective(operator, {"retention-days": "0"}).retention_days == 30
    assert workspace_settings.own_retention_days(operator, None) == 30


# --- a workspace that removed videobot -------------------------------------------------------------------


async def installed_with_history(site: Site, fake_slack: FakeSlack) -> tuple[FakeWorkspace, FakeWorkspace]:
    globex = fake_slack.add_workspace("T0002", name="Globex")
    initech = fake_slack.add_workspace("T0003", name="Initech")
    fake_slack.add_channel("CGLOBEX1", "T0002")
    fake_slack.add_channel("CINITECH", "T0003")
    for workspace, channel in ((globex, "CGLOBEX1"), (initech, "CINITECH")):
        fake_slack.authorize_as(workspace)
        assert (await site.install())[0] == 200
        await site.command(f"a kite of {workspace.name}", workspace, channel)
    await site.bot.run_jobs()
    await site.bot.services.store.home_opened("T0002", "UGLOBEX1", site.bot.clock.now())
    assert {job.state for job in await site.bot.services.store.jobs()} == {JobState.DELIVERED}
    return globex, initech


async def uninstall(site: Site, fake_slack: FakeSlack, workspace: FakeWorkspace, event_id: str) -> None:
    fake_slack.uninstall(workspace)
    assert await site.event({"type": "app_uninstalled"}, event_id, str(workspace.team_id)) == 200


async def teams_with_jobs(site: Site) -> list[str]:
    return sorted({job.team_id for job in await site.bot.services.store.jobs()})


@pytest.mark.unlimited_slack
async def test_an_uninstalled_workspaces_history_goes_after_the_period_and_not_before(
    site: Site, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="videobot.maintenance")
    globex, _ = await installed_with_history(site, fake_slack)
    store, clock = site.bot.services.store, site.bot.clock
    await uninstall(site, fake_slack, globex, "Ev1")

    clock.advance(400 * DAY_SECONDS - 60)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003"]

    clock.advance(120)
    await site.bot.services.maintenance.run()
    # Every row of T0002's is gone, as `videobot workspaces forget T0002` deletes them; T0003's stay.
    assert await teams_with_jobs(site) == ["T0003"]
    assert await rows_of(store, "home_viewers", "T0002") == 0
    assert await rows_of(store, "workspace_departures", "T0002") == 0
    assert "event=workspace_history_deleted team=T0002" in caplog.text and "jobs=1" in caplog.text
    await site.bot.services.maintenance.run()  # once only
    assert caplog.text.count("event=workspace_history_deleted") == 1


@pytest.mark.unlimited_slack
async def test_an_uninstalled_workspace_with_its_own_window_goes_after_that_window(
    site: Site, fake_slack: FakeSlack
) -> None:
    globex, _ = await installed_with_history(site, fake_slack)
    resolver: Any = site.bot.services.jobs.settings_for
    await resolver.set("T0002", "retention-days", "30", by="UADMIN")
    await uninstall(site, fake_slack, globex, "Ev1")
    site.bot.clock.advance(29 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003"]
    site.bot.clock.advance(2 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0003"]


@pytest.mark.unlimited_slack
async def test_a_reinstall_within_the_period_keeps_the_history(site: Site, fake_slack: FakeSlack) -> None:
    globex, _ = await installed_with_history(site, fake_slack)
    await uninstall(site, fake_slack, globex, "Ev1")
    site.bot.clock.advance(100 * DAY_SECONDS)
    fake_slack.authorize_as(globex)
    assert (await site.install())[0] == 200
    site.bot.clock.advance(400 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003"]
    # Removed again later: the period counts from the last removal.
    await uninstall(site, fake_slack, globex, "Ev2")
    site.bot.clock.advance(399 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003"]
    site.bot.clock.advance(2 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0003"]


@pytest.mark.unlimited_slack
async def test_an_org_wide_uninstall_deletes_the_history_of_the_orgs_workspaces_after_the_period(
    site: Site, fake_slack: FakeSlack
) -> None:
    from tests.test_workspaces_finish import grid_command, grid_site, post

    await installed_with_history(site, fake_slack)
    await grid_site(site, fake_slack)
    await post(site, grid_command(site, "T0009", "CUMBRELA", "a grid of kites"))
    await post(site, grid_command(site, "T0010", "CUMBREL2", "a grid of boats"))
    await site.bot.run_jobs()
    await site.bot.services.workspaces.uninstalled("E0001", None, why="app_uninstalled")
    site.bot.clock.advance(399 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003", "T0009", "T0010"]
    site.bot.clock.advance(2 * DAY_SECONDS)
    await site.bot.services.maintenance.run()
    assert await teams_with_jobs(site) == ["T0002", "T0003"]
