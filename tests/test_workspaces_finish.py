"""Issue 25's last gaps: the Perf account's daily cap per key, and what a job keeps of its Grid org."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bot.domain.job import Job
from bot.domain.quotas import ChannelLimits, Day, Limits, QuotaExceeded, Usage, check_usage
from storage.db import Store
from tests.fakes.jobs import stored_job

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
