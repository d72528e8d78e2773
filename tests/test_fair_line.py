"""The fair line (issue 28): people who share the account take turns for its slots at Perf."""

from __future__ import annotations

import collections
import random
from collections.abc import AsyncIterator

import pytest

from bot.domain.job import IN_FLIGHT_STATES, WAITING_STATES, Job, JobState
from bot.domain.line import GROUP_PLACES_PLAYED, Party, first_turn, party_of, place_in_group_line, place_in_line, turns
from storage.db import Store
from tests.conftest import CHANNEL, MakeBot
from tests.fakes.jobs import stored_job
from tests.fakes.old_schema import schema_7_with_jobs
from tests.test_sharing import place_in_line as place_shown

ALICE, BOB, CAROL = "UALICE001", "UBOB00001", "UCAROL001"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def assert_parties_match_the_jobs(store: Store) -> None:
    """line_parties, kept beside the jobs, says what counting each person's jobs would."""
    jobs = await store.jobs()
    waiting = collections.Counter(party_of(job) for job in jobs if job.state in WAITING_STATES)
    running = collections.Counter(party_of(job) for job in jobs if job.state in IN_FLIGHT_STATES)
    kept = await store.line_parties()
    assert {p.key: p.waiting for p in kept if p.waiting} == dict(waiting)
    assert {p.key: p.running for p in kept if p.running} == dict(running)


def started(bot_creates: list[dict[str, object]]) -> list[str]:
    return [str(c["prompt"]) for c in bot_creates]


# --- the order, as the account's slots are given --------------------------------------------------------


async def test_with_one_slot_a_colleagues_job_starts_second_after_a_burst_of_five(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    for n in range(1, 6):
        assert (await bot.command(f"Alice {n}", user=ALICE)).status == 200
    assert (await bot.command("Bob 1", user=BOB)).status == 200
    await bot.run_jobs()

    assert started(bot.perf.creates) == ["Alice 1", "Bob 1", "Alice 2", "Alice 3", "Alice 4", "Alice 5"]
    assert bot.perf.most_running == 1
    assert all(job.state == JobState.DELIVERED for job in await bot.services.store.jobs())


async def test_three_people_take_turns_and_each_keeps_their_own_order(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    for user, name, count in ((ALICE, "Alice", 3), (BOB, "Bob", 2), (CAROL, "Carol", 1)):
        for n in range(1, count + 1):
            await bot.command(f"{name} {n}", user=user)
    await bot.run_jobs()

    # Alice was served first; then Bob and Carol, who had not been served yet; then in turn again.
    assert started(bot.perf.creates) == ["Alice 1", "Bob 1", "Carol 1", "Alice 2", "Bob 2", "Alice 3"]


async def test_the_person_with_fewer_jobs_at_perf_goes_first(store: Store) -> None:
    alice = [stored_job(id=f"vb_alice000{n}", user_id=ALICE, created_at=float(n)) for n in range(1, 4)]
    for job in alice:
        assert await store.insert_job(job)
    assert await store.claim_slot(alice[0], 2, 10.0)
    assert await store.claim_slot(alice[1], 2, 11.0)  # nobody else waited: both slots are hers
    bob = stored_job(id="vb_bob0000001", user_id=BOB, created_at=12.0)
    assert await store.insert_job(bob)
    assert not await store.claim_slot(alice[2], 2, 13.0) and not await store.claim_slot(bob, 2, 13.0)

    await store.update_job(alice[0], state=JobState.DELIVERED)
    # A slot is free: Bob holds none and Alice one, so it is Bob's, though Alice 3 came first.
    assert await store.places_in_line([alice[2], bob]) == {bob.id: 1, alice[2].id: 2}
    assert not await store.claim_slot(alice[2], 2, 14.0)
    assert await store.claim_slot(bob, 2, 14.0)
    await assert_parties_match_the_jobs(store)


async def test_the_line_s_summary_follows_every_way_a_job_moves(store: Store) -> None:
    jobs = [stored_job(id=f"vb_party000{n}", user_id=[ALICE, BOB][n % 2], created_at=float(n)) for n in range(6)]
    for job in jobs:
        assert await store.insert_job(job)
    await assert_parties_match_the_jobs(store)
    assert await store.claim_slot(jobs[0], 3, 10.0)
    await store.update_job(jobs[0], state=JobState.QUEUED, submitted_at=None)  # Perf was busy: back in line
    await store.update_job(jobs[1], state=JobState.CANCELLED)
    assert await store.claim_slot(jobs[0], 3, 11.0)
    await store.update_job(jobs[0], state=JobState.PROCESSING, perf_job_id="job_1")
    await store.update_job(jobs[2], state=JobState.AWAITING_APPROVAL)
    await assert_parties_match_the_jobs(store)
    await store.update_job(jobs[0], state=JobState.COMPLETE)
    await store.update_job(jobs[2], state=JobState.ACCEPTED)
    await assert_parties_match_the_jobs(store)


async def test_the_per_person_cap_keeps_slots_for_the_others(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=3, max_running_per_person=1)
    for n in range(1, 4):
        await bot.command(f"Alice {n}", user=ALICE)
    await bot.step()
    assert started(bot.perf.creates) == ["Alice 1"]  # two slots left free, for whoever comes next

    await bot.command("Bob 1", user=BOB)
    await bot.step()
    assert started(bot.perf.creates) == ["Alice 1", "Bob 1"]  # at once, not after Alice's line

    await bot.run_jobs()
    assert sorted(started(bot.perf.creates)) == ["Alice 1", "Alice 2", "Alice 3", "Bob 1"]
    assert bot.perf.most_running == 2  # never more than one of Alice's at a time, beside Bob's
    assert started(bot.perf.creates)[2:] == ["Alice 2", "Alice 3"]


async def test_the_fair_order_survives_a_restart(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    for n in range(1, 4):
        await bot.command(f"Alice {n}", user=ALICE)
    await bot.command("Bob 1", user=BOB)
    await bot.step()
    assert started(bot.perf.creates) == ["Alice 1"]

    restarted = await make_bot(max_concurrent_jobs=1)
    await restarted.run_jobs()
    assert started(bot.perf.creates) == ["Alice 1", "Bob 1", "Alice 2", "Alice 3"]
    assert bot.perf.most_running == 1


# --- what people see ----------------------------------------------------------------------------------------


async def test_places_in_threads_follow_the_fair_order_and_are_edited_when_someone_moves_ahead(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    for n in range(1, 5):
        await bot.command(f"Alice {n}", user=ALICE)
    await bot.step()
    await bot.step()

    def progress_of(prompt: str) -> str:
        [root] = [root for root in bot.slack.roots(CHANNEL) if prompt in root.text]
        return str(bot.slack.thread(CHANNEL, root.ts)[0].text)

    assert place_shown(progress_of("Alice 2")) == 1
    assert place_shown(progress_of("Alice 4")) == 3

    await bot.command("Bob 1", user=BOB)
    await bot.step()
    await bot.step()
    # Bob has no job at Perf and Alice has one: Bob is next, and each of Alice's waiting jobs moved back.
    assert place_shown(progress_of("Bob 1")) == 1
    assert place_shown(progress_of("Alice 2")) == 2
    assert place_shown(progress_of("Alice 4")) == 4

    status = await bot.command("status", user=BOB)
    assert "next in line" in status.body, status.body


async def test_a_job_held_back_by_the_per_person_cap_says_why_though_slots_are_free(make_bot: MakeBot) -> None:
    # 3 slots, 1 each: Alice's second job waits while two slots stand free. Its thread says why.
    bot = await make_bot(max_concurrent_jobs=3, max_running_per_person=1)
    await bot.command("Alice 1", user=ALICE)
    await bot.command("Alice 2", user=ALICE)
    await bot.step()
    await bot.step()
    [root] = [root for root in bot.slack.roots(CHANNEL) if "Alice 2" in root.text]
    waiting = str(bot.slack.thread(CHANNEL, root.ts)[0].text)
    assert "one person runs at most 1 at a time" in waiting, waiting
    assert started(bot.perf.creates) == ["Alice 1"]


# --- the arithmetic of turns and places -----------------------------------------------------------------------


def test_a_place_counted_from_the_parties_is_the_place_the_turns_give() -> None:
    rng = random.Random(28)
    for _ in range(2000):
        count = rng.randint(1, 6)
        served = rng.sample(range(-50, 50), count)
        parties = [Party(f"p{i}", rng.randint(0, 3), rng.randint(0, 5), served[i]) for i in range(count)]
        order = turns(parties, sum(p.waiting for p in parties))
        for party in parties:
            own = [place for place, key in enumerate(order, start=1) if key == party.key]
            assert [place_in_line(party, nth, parties) for nth in range(1, len(own) + 1)] == own


def test_turns_give_a_capped_party_nothing_more() -> None:
    alice = Party("alice", running=2, waiting=5, turn=3)
    bob = Party("bob", running=0, waiting=1, turn=7)
    assert turns([alice, bob], 3, cap=2) == ["bob"]
    assert turns([alice, bob], 3) == ["bob", "alice", "alice"]


async def test_an_upgraded_database_s_line_keeps_its_waiting_jobs_first_come_first_served(database_url: str) -> None:
    old = await Store.open(database_url, migrate=False)
    try:
        await schema_7_with_jobs(old._engine, 600)  # 6 of them queued, each by a different person
        await old.migrate()
        await assert_parties_match_the_jobs(old)
        queued = sorted(await old.jobs(states=[JobState.QUEUED]), key=lambda job: job.arrival or 0)
        assert len(queued) == 6
        # Nobody was served yet: the slots go in the order the jobs arrived.
        assert turns(await old.line_parties(), 6) == [party_of(job) for job in queued]
        assert await old.places_in_line(queued) == {job.id: place for place, job in enumerate(queued, start=1)}
    finally:
        await old.close()


# --- many workspaces on the operator's shared line (issue 25) -----------------------------------------------


async def _fill_one_slot(store: Store, waiting: list[Job], limit: int, now: float) -> Job | None:
    """The job the next free slot goes to, as the bot's line tries each waiting one: the one claim_slot grants."""
    for job in sorted(waiting, key=lambda j: j.arrival or 0):
        if job.state in WAITING_STATES and await store.claim_slot(job, limit, now):
            return job
    return None


@pytest.mark.parametrize("shared", [True, False])
async def test_a_workspaces_burst_does_not_hold_back_anothers_single_job(store: Store, shared: bool) -> None:
    store.workspaces_share_line = shared
    burst = [
        stored_job(id=f"vb_a{person:02d}{n}", team_id="TAAAA", user_id=f"UA{person:02d}", created_at=float(n))
        for person in range(10)
        for n in range(3)
    ]
    for job in burst:
        assert await store.insert_job(job)
    for second in range(5):  # the account's 5 slots, all taken by workspace A's burst
        assert await _fill_one_slot(store, burst, 5, 10.0 + second) is not None
    single = stored_job(id="vb_b000", team_id="TBBBB", user_id="UB00", created_at=20.0)
    assert await store.insert_job(single)
    assert await store.places_in_line([single]) == {single.id: 1 if shared else 6}

    finished = next(job for job in burst if job.state == JobState.SUBMITTING)
    await store.update_job(finished, state=JobState.DELIVERED)
    first = await _fill_one_slot(store, [*burst, single], 5, 30.0)
    if shared:  # many workspaces: B's one job takes the next free slot
        assert first is single
    else:  # one workspace's line, person by person: A's five people not yet served come first
        assert first is not None and first.team_id == "TAAAA"
    await assert_parties_match_the_jobs(store)


async def test_on_the_shared_line_turns_alternate_workspaces_then_people(store: Store) -> None:
    store.workspaces_share_line = True
    jobs = [
        stored_job(id=f"vb_{team}{user}{n}", team_id=f"T{team}", user_id=f"U{user}", created_at=float(i))
        for i, (team, user, n) in enumerate(
            [("A", "1", 0), ("A", "1", 1), ("A", "2", 0), ("A", "2", 1), ("B", "3", 0), ("B", "3", 1)]
        )
    ]
    for job in jobs:
        assert await store.insert_job(job)
    order = []
    for second in range(6):  # one slot, each job done before the next starts
        claimed = await _fill_one_slot(store, jobs, 1, 10.0 + second)
        assert claimed is not None
        await store.update_job(claimed, state=JobState.DELIVERED)
        order.append(claimed.id)
    # Workspaces take turns (A, B, A, B, A…); within A, its two people take theirs (1, 2, 1, 2).
    assert order == ["vb_A10", "vb_B30", "vb_A20", "vb_B31", "vb_A11", "vb_A21"]


def test_a_shared_lines_places_are_played_out_near_the_head_and_counted_deep_in_line() -> None:
    # Workspace A: two people with 150 jobs each; workspace B: one person with 150. Never served, A's first.
    a1, a2 = Party(":TA:U1", 0, 150, first_turn(1)), Party(":TA:U2", 0, 150, first_turn(2))
    b = Party(":TB:U3", 0, 150, first_turn(3))
    # Played out as if no job finished: A1, B, A2, B, A1, A2 (holding one at Perf each, fewer than B's two), B.
    assert [place_in_group_line(b, n, [a1, a2, b]) for n in (1, 2, 3)] == [2, 4, 7]
    assert place_in_group_line(a2, 1, [a1, a2, b]) == 3
    # Beyond the places played out, a count, never before them.
    assert place_in_group_line(b, 140, [a1, a2, b]) > GROUP_PLACES_PLAYED
