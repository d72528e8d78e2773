"""Group commit: commands stored at the same moment share a transaction, and each still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import bot.jobs.admission as admission_module
from bot.domain.job import Job
from bot.domain.quotas import ChannelLimits, Day, Limits, QuotaExceeded, Usage, check_usage
from bot.domain.request import VideoRequest
from bot.domain.settings import Settings
from bot.jobs.admission import Admission
from bot.jobs.quotas import Quotas
from storage.db import JobIdTaken, Store
from tests.conftest import FakeClock
from tests.fakes.jobs import stored_job

TODAY = Day(start=0.0, end=86_400.0, label="1970-01-01")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


def within(limits: Limits, job: Job) -> Callable[[Usage, ChannelLimits | None], None]:
    def check(usage: Usage, _: ChannelLimits | None) -> None:
        check_usage(limits, usage, job.estimated_cost_micros, TODAY)

    return check


async def admit_all(store: Store, jobs: list[Job], limits: Limits) -> list[bool | BaseException]:
    return await asyncio.gather(
        *(store.insert_job(job, day=TODAY.bounds, check=within(limits, job)) for job in jobs),
        return_exceptions=True,
    )


def arrival(job: Job) -> int:
    """An admitted job's place in line (the order test sorts them; a missing one could not be sorted)."""
    assert job.arrival is not None
    return job.arrival


async def test_a_burst_at_one_instant_fills_the_quota_exactly_and_in_the_order_it_came(store: Store) -> None:
    jobs = [stored_job(id=f"vb_burst{n:05d}", created_at=10.0, user_id=f"U{n % 4}") for n in range(30)]
    outcomes = await admit_all(store, jobs, Limits(daily_jobs=9, daily_budget_micros=0, daily_jobs_per_user=0))
    assert outcomes[:9] == [True] * 9
    refusals = outcomes[9:]
    assert all(isinstance(refusal, QuotaExceeded) and refusal.which == "channel_jobs" for refusal in refusals)
    stored = [job for n in range(30) if (job := await store.get_job(f"vb_burst{n:05d}", team_id=None)) is not None]
    assert [job.id for job in stored] == [job.id for job in jobs[:9]]
    assert [job.arrival for job in stored] == sorted(arrival(job) for job in stored)
    assert (await store.usage("T0001", jobs[0].channel_id, "U0", TODAY.bounds)).channel_jobs == 9


async def test_budget_and_per_person_limits_count_what_earlier_commands_of_the_same_burst_took(store: Store) -> None:
    # $0.268 each: a $1 budget holds three; alice may have two, whatever the channel.
    alice = [stored_job(id=f"vb_alice{n:04d}", user_id="UALICE", channel_id=f"C{n}") for n in range(3)]
    budget = [stored_job(id=f"vb_budgt{n:04d}", user_id=f"U{n}", channel_id="CBUDGET") for n in range(5)]
    limits = Limits(daily_jobs=0, daily_budget_micros=1_000_000, daily_jobs_per_user=2)
    outcomes = await admit_all(store, alice + budget, limits)
    assert outcomes[:2] == [True, True]
    assert isinstance(outcomes[2], QuotaExceeded) and outcomes[2].which == "user_jobs"
    assert outcomes[3:6] == [True, True, True]
    assert all(isinstance(o, QuotaExceeded) and o.which == "channel_budget" for o in outcomes[6:])


async def test_one_trigger_delivered_several_times_at_once_starts_one_job(store: Store) -> None:
    jobs = [stored_job(id=f"vb_trig{n:05d}") for n in range(4)]
    outcomes = await asyncio.gather(*(store.insert_job(job, trigger="reaction:C1:1.0:U1") for job in jobs))
    assert outcomes == [True, False, False, False]
    assert [await store.get_job(job.id, team_id=None) is not None for job in jobs] == [True, False, False, False]


async def test_a_command_that_cannot_be_stored_costs_the_rest_of_its_burst_nothing(store: Store) -> None:
    await store.insert_job(stored_job(id="vb_taken0001"))
    jobs = [stored_job(id=f"vb_fine{n:05d}") for n in range(3)]
    clash = stored_job(id="vb_taken0001")
    broken = stored_job(id="vb_broken001", team_id=None)  # the database itself refuses it: NOT NULL
    outcomes = await asyncio.gather(
        *(store.insert_job(job) for job in [jobs[0], clash, broken, *jobs[1:]]), return_exceptions=True
    )
    assert outcomes[0] is True and outcomes[3:] == [True, True]
    assert isinstance(outcomes[1], JobIdTaken)  # admission draws another id for it
    assert isinstance(outcomes[2], Exception) and "null" in str(outcomes[2]).lower()
    assert all([await store.get_job(job.id, team_id=None) is not None for job in jobs])
    assert await store.get_job("vb_broken001", team_id=None) is None


async def test_the_same_signature_twice_in_one_burst_is_a_replay(store: Store) -> None:
    # gather's result is a list (typeshed calls it a tuple for a fixed number of awaitables).
    sightings = list(
        await asyncio.gather(
            store.first_sighting("v0=aa", 100.0, 360.0),
            store.first_sighting("v0=bb", 100.0, 360.0),
            store.first_sighting("v0=aa", 100.0, 360.0),
        )
    )
    assert sightings == [True, True, False]
    assert await store.first_sighting("v0=bb", 101.0, 360.0) is False


async def test_a_burst_across_midnight_and_channels_counts_each_day_and_channel_apart(store: Store) -> None:
    tomorrow = Day(start=86_400.0, end=172_800.0, label="1970-01-02")
    await store.set_channel_limits("T0001", "CLIMITED", ChannelLimits(5, None, "UADMIN", 1.0))
    limits = Limits(daily_jobs=2, daily_budget_micros=0, daily_jobs_per_user=0)
    earlier = [stored_job(id=f"vb_early{n:04d}", channel_id="CBUSY", created_at=100.0) for n in range(2)]
    assert await admit_all(store, earlier, limits) == [True, True]
    await store.insert_job(stored_job(id="vb_early_tomorrow", channel_id="CBUSY", created_at=86_450.0))
    seen: dict[str, tuple[Usage, ChannelLimits | None]] = {}

    def admit(job: Job, day: Day) -> asyncio.Future[bool]:
        def check(usage: Usage, channel_limits: ChannelLimits | None) -> None:
            seen[job.id] = (usage, channel_limits)
            check_usage(limits, usage, job.estimated_cost_micros, day)

        return asyncio.ensure_future(store.insert_job(job, day=day.bounds, check=check))

    burst = [
        (stored_job(id="vb_busy_today", channel_id="CBUSY", created_at=200.0), TODAY),
        (stored_job(id="vb_busy_tomor", channel_id="CBUSY", created_at=86_500.0), tomorrow),
        (stored_job(id="vb_limited_01", channel_id="CLIMITED", created_at=200.0), TODAY),
    ]
    outcomes = await asyncio.gather(*(admit(job, day) for job, day in burst), return_exceptions=True)
    assert isinstance(outcomes[0], QuotaExceeded) and outcomes[0].which == "channel_jobs"
    assert outcomes[1:] == [True, True]
    assert seen["vb_busy_today"][0].channel_jobs == 2 and seen["vb_busy_tomor"][0].channel_jobs == 1
    assert seen["vb_busy_today"][1] is None
    limited = seen["vb_limited_01"][1]
    assert limited is not None and limited.daily_jobs == 5
    assert (await store.usage("T0001", "CBUSY", "U1", tomorrow.bounds)).channel_jobs == 2


async def test_a_new_job_whose_id_is_taken_draws_another_and_the_older_job_keeps_its_own(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ids of one hour share their first characters, so two may collide: the burst still gets every job.
    older = stored_job(id="vb_aaataken01", prompt="the older one", created_at=5.0)
    assert await store.insert_job(older)
    draws = iter(["vb_aaataken01", "vb_aaataken01", "vb_aaafresh01", "vb_aaafresh02"])
    monkeypatch.setattr(admission_module, "new_job_id", lambda now: next(draws))
    settings = Settings(slack_bot_token="xoxb-test", perf_api_key="test")
    admission = Admission(store, FakeClock(10.0), Quotas(store, settings))

    def start(prompt: str) -> Awaitable[Job]:
        return admission.start(
            VideoRequest(prompt=prompt), team_id="T1", channel_id=older.channel_id, user_id="UBOB", response_url=""
        )

    first, second = await asyncio.gather(start("bob's"), start("carol's"))
    assert {first.id, second.id} == {"vb_aaafresh01", "vb_aaafresh02"}
    assert {(await store.get_job(job.id, team_id=None) or older).prompt for job in (first, second)} == {
        "bob's",
        "carol's",
    }
    kept = await store.get_job("vb_aaataken01", team_id=None)
    assert kept is not None and kept.prompt == "the older one"
