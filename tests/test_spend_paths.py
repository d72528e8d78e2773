"""The spend summary the budgets read (spend_days, storage/spend.py) against the jobs it sums, after every
way a job can go: admitted, waiting for approval then approved and charged less than its estimate, denied,
expired, withdrawn while it waited, cancelled in line, failed before Perf, unknown. On both engines.

What the jobs themselves say: a job counts for its charged cost where Perf reported one, its estimate until
then, and not at all once it certainly never reached Perf (`Job.holds_quota`)."""

from __future__ import annotations

import collections

from bot.domain.job import Decision, Job, JobState
from storage.db import Store
from storage.spend import CHANNEL, MODEL, USER, WORKSPACE, Spent
from tests.conftest import CHANNEL as HERE
from tests.conftest import Bot, MakeBot, private_text
from tests.fakes.perf import Scripted
from tests.test_approvals import APPROVALS, BOB, CHEAP, asked, click, deny_submission, waiting_bot
from tests.test_job_counts import assert_counts_match_the_jobs

ALL_TIME = (0.0, 1e12)
ELSEWHERE = "C0THER001"
CAROL_REQUESTER = "UREQ0003"


def expected_spend(jobs: list[Job]) -> dict[str, dict[str, Spent]]:
    """Each scope's ids → what the jobs that hold quota add up to, the way the budgets count them."""
    totals: dict[str, dict[str, list[int]]] = {s: collections.defaultdict(lambda: [0, 0]) for s in _SCOPES}
    for job in jobs:
        if not job.holds_quota:
            continue
        for scope, scope_id in _keys(job):
            totals[scope][scope_id][0] += 1
            totals[scope][scope_id][1] += job.cost_micros
    return {scope: {k: Spent(*v) for k, v in found.items()} for scope, found in totals.items()}


_SCOPES = (WORKSPACE, CHANNEL, USER, MODEL)


def _keys(job: Job) -> list[tuple[str, str]]:
    return [(WORKSPACE, ""), (CHANNEL, job.channel_id), (USER, job.user_id), (MODEL, job.model)]


async def assert_spend_is_what_the_jobs_say(store: Store) -> None:
    jobs = await store.jobs()
    expected = expected_spend(jobs)
    for scope in _SCOPES:
        assert dict(await store.spent_by_id("T0001", scope, ALL_TIME)) == expected[scope], scope
    days: dict[float, Spent] = {}
    for job in jobs:
        if job.holds_quota and job.spend_day is not None:
            before = days.get(job.spend_day, Spent(0, 0))
            days[job.spend_day] = Spent(before.jobs + 1, before.cost_micros + job.cost_micros)
    assert await store.spent_by_day("T0001", WORKSPACE, "", ALL_TIME) == days
    await assert_counts_match_the_jobs(store)  # and the jobs by state, kept in the same transactions


async def state_of(bot: Bot, job_id: str) -> Job:
    job = await bot.services.store.get_job(job_id, team_id=None)
    assert job is not None
    return job


async def test_the_spend_summary_is_what_the_jobs_say_after_every_way_a_job_goes(make_bot: MakeBot) -> None:
    bot = await waiting_bot(
        make_bot, approval_channel=APPROVALS, approval_hours=2.0, daily_jobs_per_channel=0, daily_jobs_per_user=0
    )
    store = bot.services.store

    # Admitted, then delivered: Perf charges $0.40 for a job estimated at $0.13.
    await bot.command(CHEAP)
    await assert_spend_is_what_the_jobs_say(store)
    await bot.run_jobs()
    cheap = await bot.only_job()
    assert cheap.state == JobState.DELIVERED and cheap.perf_cost_micros == 400_000 != cheap.estimated_cost_micros
    await assert_spend_is_what_the_jobs_say(store)

    # Waiting for approval holds its estimate; approved, it runs and counts what Perf charged.
    approved = await asked(bot)
    await assert_spend_is_what_the_jobs_say(store)
    assert (await store.spent("T0001", WORKSPACE, "", ALL_TIME)).cost_micros == 400_000 + 2_800_000
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, approved.id, BOB, "approval_approve"))
    await assert_spend_is_what_the_jobs_say(store)
    await bot.run_jobs()
    assert (await state_of(bot, approved.id)).state == JobState.DELIVERED
    await assert_spend_is_what_the_jobs_say(store)
    assert (await store.spent("T0001", WORKSPACE, "", ALL_TIME)) == Spent(2, 800_000)

    # Denied: its estimate is given back.
    denied = await asked(bot, user=CAROL_REQUESTER)
    await assert_spend_is_what_the_jobs_say(store)
    await bot.interaction(deny_submission(denied.id, BOB, "not now"))
    await assert_spend_is_what_the_jobs_say(store)
    await bot.run_jobs()
    assert (await state_of(bot, denied.id)).approval == Decision.DENIED
    assert (await store.spent("T0001", USER, CAROL_REQUESTER, ALL_TIME)) == Spent(0, 0)

    # Expired, and withdrawn by its requester while it waited.
    expired = await asked(bot, channel=ELSEWHERE)
    bot.clock.advance(2 * 3600)
    await bot.run_jobs()
    assert (await state_of(bot, expired.id)).approval == Decision.EXPIRED
    await assert_spend_is_what_the_jobs_say(store)
    withdrawn = await asked(bot)
    assert "Cancelled" in private_text(await bot.command(f"cancel {withdrawn.id}"))
    await assert_spend_is_what_the_jobs_say(store)
    await bot.run_jobs()
    assert (await state_of(bot, withdrawn.id)).approval == Decision.WITHDRAWN
    await assert_spend_is_what_the_jobs_say(store)

    # Cancelled in line, before its first step.
    await bot.command("In line --model pika --duration 3")
    [in_line] = [j for j in await store.jobs() if j.state == JobState.ACCEPTED]
    assert "Cancelled" in private_text(await bot.command(f"cancel {in_line.id}"))
    await assert_spend_is_what_the_jobs_say(store)

    # Refused by Perf (never reached it), then a create that may have reached it (unknown: still counted).
    bot.perf.create_script = [
        Scripted(400, {"error": {"type": "invalid_request", "message": "no"}}),
        Scripted(502, raw="<html>bad gateway</html>"),
    ]
    await bot.command("Refused --model pika --duration 4")
    await bot.run_jobs()
    await bot.command("Maybe sent --model pika --duration 4", channel=ELSEWHERE)
    await bot.run_jobs()
    states = collections.Counter(job.state for job in await store.jobs())
    assert states == {JobState.DELIVERED: 2, JobState.FAILED: 3, JobState.CANCELLED: 2, JobState.UNKNOWN: 1}
    await assert_spend_is_what_the_jobs_say(store)
    assert (await store.spent("T0001", CHANNEL, ELSEWHERE, ALL_TIME)).jobs == 1
    assert HERE != ELSEWHERE
