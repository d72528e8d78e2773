"""A workspace's own settings (issue 25): the operator's environment gives the defaults, a workspace's admins
override quotas, budgets, approvals and channels with `/video admin set`, for their workspace alone; `/video
admin` and `/video help` show what applies. On both engines."""

from __future__ import annotations

from bot.domain import workspace_settings
from bot.domain.job import JobState
from bot.domain.settings import Settings
from storage.secrets import generate_key
from tests.conftest import CHANNEL, USER, Bot, MakeBot
from tests.test_home import ADMIN
from tests.test_perf_keys import command_from

ENCRYPTION_KEY = generate_key()


async def admin_bot(make_bot: MakeBot) -> Bot:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    bot.slack.add_user(ADMIN, is_admin=True)
    return bot


async def test_an_admins_quota_applies_to_their_workspace_alone(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    answer = await command_from(bot, "T0001", "admin set channel-jobs 1", user=ADMIN)
    assert answer == "`channel-jobs` is now 1 job in this workspace."
    assert await command_from(bot, "T0001", "First") == ""
    refused = await command_from(bot, "T0001", "Second")
    assert "used its 1 job" in refused
    # Another workspace keeps the operator's default (20 a channel a day).
    assert await command_from(bot, "T0002", "First elsewhere") == ""
    assert await command_from(bot, "T0002", "Second elsewhere") == ""
    assert len(await bot.services.store.jobs()) == 3
    # Back to the default.
    answer = await command_from(bot, "T0001", "admin unset channel-jobs", user=ADMIN)
    assert answer == "`channel-jobs` is back to the default: 20 jobs."
    assert await command_from(bot, "T0001", "Second, again") == ""


async def test_admin_shows_what_applies_and_only_admins_change_it(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    await command_from(bot, "T0001", "admin set monthly-budget $250", user=ADMIN)
    shown = await command_from(bot, "T0001", "admin", user=USER)
    assert "`monthly-budget`: $250.00 (this workspace)" in shown
    assert "`channel-jobs`: 20 jobs. Jobs a channel may start a day" in shown
    assert "Workspace admins and owners can change these" in shown
    assert "Only a workspace admin or owner" in await command_from(bot, "T0001", "admin set channel-jobs 5", user=USER)
    assert "There is no setting `colour`" in await command_from(bot, "T0001", "admin set colour red", user=ADMIN)
    assert "`person-jobs` takes a whole number of jobs" in await command_from(
        bot, "T0001", "admin set person-jobs lots", user=ADMIN
    )
    # /video help says what this workspace changed; another workspace's help does not.
    assert "This workspace's own settings" in await command_from(bot, "T0001", "help")
    assert "This workspace's own settings" not in await command_from(bot, "T0002", "help")


async def test_a_workspaces_approval_limit_asks_its_own_approvers(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    refused = await command_from(bot, "T0001", "admin set approval-over 0.10", user=ADMIN)
    assert "needs someone to ask" in refused
    await command_from(bot, "T0001", "admin set approval-channel C0APPROVE", user=ADMIN)
    assert "now $0.10" in await command_from(bot, "T0001", "admin set approval-over 0.10", user=ADMIN)
    await command_from(bot, "T0001", "A costly lighthouse --model veo-3 --duration 8")
    await command_from(bot, "T0002", "Another costly lighthouse --model veo-3 --duration 8")
    await bot.step()
    await bot.step()
    states = {job.team_id: job.state for job in await bot.services.store.jobs()}
    assert states["T0001"] == JobState.AWAITING_APPROVAL
    assert states["T0002"] in (JobState.PENDING, JobState.PROCESSING)
    assert bot.slack.roots("C0APPROVE"), "the approvers' channel got the request"
    assert [create["prompt"] for create in bot.perf.creates] == ["Another costly lighthouse"]


async def test_a_workspaces_allowed_channels_refuse_the_others(make_bot: MakeBot) -> None:
    bot = await admin_bot(make_bot)
    await command_from(bot, "T0001", "admin set allowed-channels C0THER01", user=ADMIN)
    assert "isn't switched on for this channel" in await command_from(bot, "T0001", "A lighthouse")
    assert await command_from(bot, "T0002", "A lighthouse") == ""
    assert [job.channel_id for job in await bot.services.store.jobs()] == [CHANNEL]


async def test_without_the_encryption_key_there_are_no_workspace_settings(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    answer = await command_from(bot, "T0001", "admin set channel-jobs 1", user=ADMIN)
    assert "keeps no settings per workspace" in answer


def test_a_stored_value_that_no_longer_reads_leaves_the_operators_default() -> None:
    defaults = Settings(slack_bot_token="x", perf_api_key="y", daily_jobs_per_channel=20)
    applied = workspace_settings.effective(defaults, {"channel-jobs": "many", "person-jobs": "3", "gone": "1"})
    assert (applied.daily_jobs_per_channel, applied.daily_jobs_per_user) == (20, 3)


async def test_app_home_lists_the_workspaces_own_settings(make_bot: MakeBot) -> None:
    from tests.test_home import home_opened, text_of

    bot = await admin_bot(make_bot)
    await command_from(bot, "T0001", "admin set person-jobs 3", user=ADMIN)
    await bot.event(home_opened(USER))
    text = text_of(bot.slack.homes[USER][-1])
    assert "This workspace's own settings" in text and "`person-jobs`: 3 jobs (this workspace)" in text
