"""Budgets in money (issue 19): monthly per channel and for the workspace, daily per person, and the Perf
account's own jobs a day, checked with the other limits at admission, through signed slash commands."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.job import JobState
from bot.domain.quotas import (
    ChannelLimits,
    Limits,
    QuotaExceeded,
    Setting,
    Usage,
    cheaper_settings,
    check_usage,
    day_of,
    month_of,
    parse_limit,
)
from bot.runtime.config import ConfigError, load_settings
from storage.db import Store
from storage.spend import CHANNEL, MODEL, USER, WORKSPACE, Spent
from tests.conftest import CHANNEL as HERE
from tests.conftest import MakeBot, private_text
from tests.fakes.jobs import stored_job
from tests.fakes.old_schema import schema_7_with_jobs
from tests.fakes.perf import Scripted

ADMIN = "UADMIN01"
END_OF_JANUARY = 1_801_439_000.0  # 2027-01-31 23:43 UTC
ELSEWHERE = "C0THER001"


async def test_a_channels_monthly_budget_refuses_with_what_is_spent_left_when_it_resets_and_what_fits(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.slack.add_user(ADMIN, is_admin=True)
    assert "Its monthly budget is $5.00." in private_text(await bot.command("quota set month $5", user=ADMIN))
    assert "Only workspace admins" in private_text(await bot.command("quota set month $500"))
    assert "`/video quota set month $200`" in private_text(await bot.command("quota set month lots", user=ADMIN))

    assert (await bot.command("A --model veo-3 --duration 8")).body == ""  # est. $2.80
    refused = private_text(await bot.command("B --model veo-3 --duration 8", user="UOTHER01"))
    assert "This job (est. $2.80) would take this channel past its monthly budget" in refused
    assert "$2.80 of $5.00 used, $2.20 left, so nothing was started" in refused
    # The clock is in January 2027: the budget starts again on the first of February.
    assert "resets on 1 February at midnight UTC, in 17 days" in refused
    assert "`--model veo-3 --duration 6` (est. $2.10)" in refused
    assert "`--model luma-dream-machine --duration 8` (est. $0.48)" in refused
    assert "/video quota set month" in refused
    # Another channel has no monthly budget of its own.
    assert (await bot.command("C --model veo-3 --duration 8", channel=ELSEWHERE)).body == ""

    shown = private_text(await bot.command("quota"))
    assert "This channel's budget for 2027-01: $2.80 of $5.00 used, $2.20 left" in shown
    await bot.run_jobs()
    assert sorted(c["prompt"] for c in bot.perf.creates) == ["A", "C"]
    assert "monthly budget" not in private_text(await bot.command("quota set month off", user=ADMIN))
    assert (await bot.command("B --model veo-3 --duration 60", user="UOTHER01")).body == ""  # $21 fits now


async def test_the_charged_cost_replaces_the_estimate_once_perf_reports_it(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("quota set month $5", user=ADMIN)
    await bot.command("A --model veo-3 --duration 8")  # est. $2.80; the fake Perf charges $0.40
    assert "past its monthly budget" in private_text(await bot.command("B --model veo-3 --duration 8"))
    await bot.run_jobs()
    assert (await bot.only_job()).perf_cost_micros == 400_000
    assert (await bot.command("B --model veo-3 --duration 8")).body == ""  # $0.40 + $2.80 of $5
    shown = private_text(await bot.command("quota"))
    assert "$3.20 of $5.00 used, $1.80 left" in shown


async def test_a_job_that_never_reached_perf_gives_its_money_back(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_user=3_000_000)
    bot.perf.create_script = [Scripted(400, {"error": {"type": "invalid_request", "message": "bad prompt"}})]
    await bot.command("Refused by Perf --model veo-3 --duration 8")
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.FAILED
    assert (await bot.command("Second try --model veo-3 --duration 8")).body == ""


async def test_the_workspace_month_ends_at_midnight_in_the_configured_zone(make_bot: MakeBot) -> None:
    zone = "America/Los_Angeles"
    bot = await make_bot(daily_jobs_per_channel=0, monthly_budget_micros=3_000_000, timezone=zone)
    # 23:50 on the last day of a month in Los Angeles: already the next month in UTC.
    bot.clock.t = month_of(bot.clock.t, zone).end - 10 * 60
    assert (await bot.command("Here --model veo-3 --duration 8")).body == ""  # $2.80 of $3
    refused = private_text(await bot.command("There --model veo-3 --duration 8", channel=ELSEWHERE))
    assert "would take the workspace past its monthly budget: $2.80 of $3.00 used, $0.20 left" in refused
    assert "resets on 1 February at midnight America/Los_Angeles, in 10 min" in refused
    assert "`--model luma-dream-machine --duration 3` (est. $0.18)" in refused
    assert "VIDEOBOT_MONTHLY_BUDGET_USD" in refused
    bot.clock.advance(11 * 60)
    assert (await bot.command("There --model veo-3 --duration 8", channel=ELSEWHERE)).body == ""
    await bot.run_jobs()
    assert sorted(c["prompt"] for c in bot.perf.creates) == ["Here", "There"]


async def test_a_person_has_a_daily_budget_across_channels(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_user=1_000_000)
    assert (await bot.command("A --duration 8")).body == ""  # runway-gen3, $0.80
    refused = private_text(await bot.command("B --duration 4", channel=ELSEWHERE))  # $0.40 more
    assert "would take you past your daily budget: $0.80 of $1.00 used, $0.20 left" in refused
    assert "resets at midnight UTC" in refused and "VIDEOBOT_DAILY_BUDGET_USD_PER_USER" in refused
    assert "`--model runway-gen3 --duration 2` (est. $0.20)" in refused
    assert (await bot.command("B --duration 4", user="UOTHER01")).body == ""
    assert "Your budget today: $0.80 of $1.00 used, $0.20 left" in private_text(await bot.command("quota"))


async def test_nothing_cheaper_is_offered_when_nothing_fits(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_user=50_000)
    refused = private_text(await bot.command("A --model veo-3 --duration 8"))
    assert "No shorter or cheaper setting fits what is left." in refused


async def test_the_accounts_daily_jobs_are_refused_at_the_command_until_the_oldest_is_a_day_old(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, account_daily_jobs=2)
    await bot.command("One")
    await bot.run_jobs()
    bot.clock.advance(3600)
    await bot.command("Two", channel=ELSEWHERE, user="UOTHER01")
    await bot.run_jobs()
    refused = private_text(await bot.command("Three", user="UTHIRD01"))
    assert "makes at most 2 jobs a day, and 2 were started in the last 24 hours" in refused
    # One was made at 08:00 UTC an hour ago: the next is free at 08:00 tomorrow.
    assert "The next one is free at <!date^1800086400^{time}|8:00\u202fAM UTC>, in 23 h 0 min" in refused
    assert "VIDEOBOT_ACCOUNT_DAILY_JOBS" in refused
    assert len(bot.perf.creates) == 2
    bot.clock.advance(23 * 3600)
    assert (await bot.command("Three", user="UTHIRD01")).body == ""


async def test_a_burst_on_a_workspace_budget_spends_exactly_what_fits(make_bot: MakeBot) -> None:
    # $0.268 each (pika, 4 s): $2 holds seven, whichever channels and people ask at once.
    bot = await make_bot(daily_jobs_per_channel=0, monthly_budget_micros=2_000_000)
    responses = await asyncio.gather(
        *(
            bot.command(f"Scene {n} --model pika", user=f"UPERSON{n:02d}", channel=f"C0BURST{n % 3:02d}")
            for n in range(12)
        )
    )
    assert len([r for r in responses if not r.body]) == 7
    assert all("past its monthly budget" in private_text(r) for r in responses if r.body)
    await bot.run_jobs()
    assert len(bot.perf.creates) == 7


async def test_the_spend_summary_matches_the_jobs_it_sums(make_bot: MakeBot) -> None:
    """Whatever happens to the jobs (charged, failed before Perf, cancelled), the summary the budgets read
    is what a count of the jobs themselves gives."""
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.perf.create_script = [Scripted(400, {"error": {"type": "invalid_request", "message": "no"}})]
    for n in range(4):
        await bot.command(f"Scene {n} --model veo-3 --duration {n + 2}", user=f"UPERSON{n % 2:02d}")
    await bot.command("Elsewhere --model pika", channel=ELSEWHERE)
    await bot.run_jobs()
    jobs = await bot.services.store.jobs()
    store, month = bot.services.store, month_of(bot.clock.now(), "UTC").bounds
    held = [job for job in jobs if job.holds_quota]
    assert len(held) == 4 and any(job.state == JobState.FAILED for job in jobs)
    assert (
        (await store.spent("T0001", WORKSPACE, "", month)).cost_micros
        == sum(job.cost_micros for job in held)
        == 1_600_000
    )
    assert (await store.spent("T0001", CHANNEL, ELSEWHERE, month)).jobs == 1
    for person in ("UPERSON00", "UPERSON01"):
        mine = [job for job in held if job.user_id == person]
        assert (await store.spent("T0001", USER, person, month)).cost_micros == sum(job.cost_micros for job in mine)
    assert (await store.spent("T0001", MODEL, "veo-3", month)).jobs == 3
    assert HERE != ELSEWHERE


# --- settings and rules ---------------------------------------------------------------------------

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PERF_API_KEY": "pk_test_1"}


def test_the_budget_settings_are_read_in_dollars_and_jobs() -> None:
    default = load_settings(BASE)
    assert (default.monthly_budget_micros, default.daily_budget_micros_per_user, default.account_daily_jobs) == (
        0,
        0,
        0,
    )
    settings = load_settings(
        {
            **BASE,
            "VIDEOBOT_MONTHLY_BUDGET_USD": "$200",
            "VIDEOBOT_DAILY_BUDGET_USD_PER_USER": "12.50",
            "VIDEOBOT_ACCOUNT_DAILY_JOBS": "100",
        }
    )
    assert settings.monthly_budget_micros == 200_000_000
    assert settings.daily_budget_micros_per_user == 12_500_000
    assert settings.account_daily_jobs == 100


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("VIDEOBOT_MONTHLY_BUDGET_USD", "lots", "an amount in dollars such as 25"),
        ("VIDEOBOT_MONTHLY_BUDGET_USD", "-5", "between 0 (no limit)"),
        ("VIDEOBOT_DAILY_BUDGET_USD_PER_USER", "5 dollars", "an amount in dollars"),
        ("VIDEOBOT_ACCOUNT_DAILY_JOBS", "five", "VIDEOBOT_ACCOUNT_DAILY_JOBS"),
        ("VIDEOBOT_ACCOUNT_DAILY_JOBS", "-1", "between 0 and 1000000, not -1"),  # not "1e+06"
        ("VIDEOBOT_ACCOUNT_DAILY_JOBS", "5.5", "a whole number"),
        ("VIDEOBOT_DAILY_BUDGET_USD_PER_USER", "nan", "between 0 (no limit)"),
    ],
)
def test_a_bad_budget_setting_is_named_at_start(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: value})
    assert str(caught.value).startswith(name) and says in str(caught.value)


@pytest.mark.parametrize(
    ("value", "micros"), [("month $200", 200_000_000), ("monthly 50", 50_000_000), ("month off", 0)]
)
def test_monthly_limits_are_parsed_from_quota_set(value: str, micros: int) -> None:
    change = parse_limit(value)
    assert change is not None and change.monthly_budget_micros == micros
    assert change.daily_budget_micros is None and change.daily_jobs is None


@pytest.mark.parametrize("value", ["month lots", "month $0", "month", "month -5"])
def test_a_bad_monthly_limit_is_refused(value: str) -> None:
    assert parse_limit(value) is None


def test_the_month_is_a_calendar_month_in_the_zone() -> None:
    # 2027-01-01 00:30 in Berlin is still December in UTC.
    month = month_of(1_798_759_800.0, "Europe/Berlin")
    assert month.label == "2027-01" and month.start == 1_798_758_000.0
    assert month_of(month.start - 1, "Europe/Berlin").label == "2026-12"


def test_a_cheaper_setting_is_the_longest_that_fits_or_another_model() -> None:
    assert cheaper_settings("veo-3", Decimal(8), 1_000_000) == (
        Setting("veo-3", Decimal(2), 700_000),
        Setting("luma-dream-machine", Decimal(8), 480_000),
    )
    # Nothing at veo-3's price, nor any model for 8 s: the cheapest model for as long as fits.
    assert cheaper_settings("veo-3", Decimal(8), 200_000) == (Setting("luma-dream-machine", Decimal(3), 180_000),)
    assert cheaper_settings("pika", Decimal(1), 10_000) == ()


async def test_the_upgrade_sums_the_jobs_already_stored(database_url: str) -> None:
    store = await Store.open(database_url, migrate=False)
    try:
        await schema_7_with_jobs(store._engine, 600)  # pika, $0.268 each, all on 2023-11-14 (UTC)
        await store.migrate()
        day = (1_699_920_000.0, 1_700_006_400.0)
        assert await store.spent("T0001", WORKSPACE, "", day) == Spent(600, 600 * 268_000)
        assert await store.spent("T0001", CHANNEL, "C7", day) == Spent(12, 12 * 268_000)
        assert await store.spent("T0001", MODEL, "pika", (0.0, 2e9)) == Spent(600, 600 * 268_000)
        first = await store.get_job("vb_7919", team_id=None)
        assert first is not None and first.spend_day == day[0]
    finally:
        await store.close()


async def test_two_replicas_admitting_at_once_never_spend_past_the_workspaces_month(database_url: str) -> None:
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        day, month = day_of(END_OF_JANUARY, "UTC"), month_of(END_OF_JANUARY, "UTC")
        limits = Limits(0, 0, 0, workspace_monthly_micros=2_000_000)  # seven jobs of $0.268

        def admit(store: Store, n: int) -> Coroutine[Any, Any, bool]:
            job = stored_job(
                id=f"vb_repl{n:05d}", created_at=END_OF_JANUARY, channel_id=f"C{n % 3}", spend_day=day.start
            )

            def check(usage: Usage, _: ChannelLimits | None) -> None:
                check_usage(limits, usage, job.estimated_cost_micros, day, month)

            return store.insert_job(job, day=day.bounds, check=check, month=month.bounds)

        outcomes = await asyncio.gather(
            *(admit(first if n % 2 else second, n) for n in range(20)), return_exceptions=True
        )
        assert outcomes.count(True) == 7
        assert all(
            isinstance(o, QuotaExceeded) and o.which == "workspace_month_budget" for o in outcomes if o is not True
        )
        assert await first.spent("T0001", WORKSPACE, "", month.bounds) == Spent(7, 7 * 268_000)
    finally:
        await first.close()
        await second.close()
