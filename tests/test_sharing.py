"""Sharing one paid account: the job queue, daily quotas, and where the money went."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.domain.job import Job, JobState
from bot.domain.quotas import day_of
from bot.domain.reports import due_report_day, summarize
from tests.conftest import CHANNEL, USER, MakeBot, private_text, reaction_event_body
from tests.fakes.jobs import stored_job
from tests.fakes.perf import Scripted

ADMIN = "UADMIN01"


# --- the queue -----------------------------------------------------------------------------------


def place_in_line(text: str) -> int:
    if "next in line" in text:
        return 1
    found = re.search(r"(\d+)\w\w in line", text)
    assert found is not None, text
    return int(found[1])


async def test_with_two_slots_eight_jobs_never_run_more_than_two_at_once_and_start_in_order(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=2)
    for n in range(8):
        assert (await bot.command(f"Scene {n}")).status == 200
    await bot.step()

    assert len(bot.perf.creates) == 2
    # In scene order: roots of jobs started together may be posted in either order (see below).
    roots = sorted(bot.slack.roots(CHANNEL), key=lambda root: int(root.text.split("Scene ")[1].split("”")[0]))
    assert len(roots) == 8
    waiting = [bot.slack.thread(CHANNEL, root.ts)[0].text for root in roots[2:]]
    assert all(text.startswith("⏳ Waiting for a free slot at Perf: ") for text in waiting)
    places = [place_in_line(text) for text in waiting]
    if bot.services.store.engine == "sqlite":
        assert places == [1, 2, 3, 4, 5, 6]
    else:
        # Each place is counted when the job looks; a job started in the same tick may not yet have
        # taken its slot, so a place can be one or two further back, never ahead of its turn.
        assert all(true_place <= place <= true_place + 2 for true_place, place in enumerate(places, start=1))

    await bot.run_jobs()
    assert bot.perf.most_running == 2
    created = [int(c["prompt"].removeprefix("Scene ")) for c in bot.perf.creates]
    assert sorted(created) == list(range(8))
    # In line order: two jobs holding slots at once may reach Perf in either order (on PostgreSQL they
    # are sent over separate connections), but no job overtakes one more than a slot's width ahead of it.
    for place, n in enumerate(created):
        overtaken = [earlier for earlier in range(n) if earlier not in created[:place]]
        assert len(overtaken) <= 1, f"Scene {n} was sent before {overtaken}"
    assert all(job.state == JobState.DELIVERED for job in await bot.services.store.jobs())
    # The line moved, and the last in line was told so before its turn came.
    last_progress = bot.slack.thread(CHANNEL, roots[7].ts)[0]
    seen_places = [text for text in last_progress.history if "in line" in text]
    assert seen_places and not seen_places[-1].endswith("6th in line"), last_progress.history


async def test_a_429_on_create_puts_the_job_back_at_the_head_of_the_line(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    bot.perf.create_script = [
        Scripted(429, {"error": {"type": "rate_limited", "message": "busy"}}, {"Retry-After": "20"})
    ]
    await bot.command("First")
    await bot.command("Second")
    await bot.step()
    first, second = await bot.services.store.jobs()
    assert first.state == JobState.QUEUED and first.next_poll_at == bot.clock.now() + 20
    assert second.state == JobState.QUEUED

    await bot.run_jobs()
    assert [c["prompt"] for c in bot.perf.creates] == ["First", "Second"]
    assert bot.perf.create_requests == 3


async def test_the_queue_survives_a_restart(make_bot: MakeBot) -> None:
    bot = await make_bot(max_concurrent_jobs=1)
    for n in range(3):
        await bot.command(f"Scene {n}")
    await bot.step()
    assert len(bot.perf.creates) == 1

    restarted = await make_bot(max_concurrent_jobs=1)
    await restarted.run_jobs()
    assert [c["prompt"] for c in bot.perf.creates] == ["Scene 0", "Scene 1", "Scene 2"]
    assert bot.perf.most_running == 1


# --- quotas --------------------------------------------------------------------------------------


async def test_a_burst_on_a_quota_of_three_starts_exactly_three(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=3)
    responses = await asyncio.gather(*(bot.command(f"Scene {n}", user=f"UPERSON{n:02d}") for n in range(12)))
    refused = [r for r in responses if r.body]
    assert len(refused) == 9
    assert all("This channel has used its 3 jobs for today" in private_text(r) for r in refused)
    assert "resets at midnight UTC" in private_text(refused[0])
    assert "/video quota set" in private_text(refused[0])

    await bot.run_jobs()
    assert len(bot.perf.creates) == 3 and len(bot.slack.roots(CHANNEL)) == 3


async def test_the_quota_resets_at_midnight_in_the_configured_zone(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=1, timezone="America/Los_Angeles")
    # 23:50 in Los Angeles, which is already the next day in UTC.
    bot.clock.t = day_of(bot.clock.t, "America/Los_Angeles").end - 10 * 60
    await bot.command("Before midnight")
    late = private_text(await bot.command("Still before midnight"))
    assert "resets at midnight America/Los_Angeles, in 10 min" in late
    bot.clock.advance(11 * 60)
    assert (await bot.command("After midnight")).body == ""
    await bot.run_jobs()
    assert sorted(c["prompt"] for c in bot.perf.creates) == ["After midnight", "Before midnight"]


async def test_a_job_that_never_reached_perf_gives_its_slot_back(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=1)
    bot.perf.create_script = [Scripted(400, {"error": {"type": "invalid_request", "message": "bad prompt"}})]
    await bot.command("Refused by Perf")
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.FAILED
    assert (await bot.command("Second try")).body == ""
    await bot.run_jobs()
    # A job Perf accepted keeps its slot, whatever its outcome.
    assert "used its 1 job" in private_text(await bot.command("Third"))


async def test_budget_and_per_person_limits(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_channel=3_000_000, daily_jobs_per_user=2)
    assert (await bot.command("A --model veo-3 --duration 8")).body == ""  # est. $2.80
    refused = private_text(await bot.command("B --model veo-3 --duration 2", user="UOTHER01"))  # $0.70 more
    assert "would take this channel past its daily budget: $2.80 of $3.00 used" in refused
    assert (await bot.command("C --model luma-dream-machine --duration 1")).body == ""  # $0.06
    mine = private_text(await bot.command("D --model luma-dream-machine --duration 1"))
    assert "You have started your 2 jobs for today" in mine
    await bot.run_jobs()
    assert sorted(c["prompt"] for c in bot.perf.creates) == ["A", "C"]


async def test_the_bot_works_only_in_allowed_channels(make_bot: MakeBot) -> None:
    bot = await make_bot(allowed_channels=(CHANNEL,))
    text = private_text(await bot.command("Elsewhere", channel="C0THER01"))
    assert "isn't switched on for this channel" in text
    assert (await bot.command("Here")).body == ""
    await bot.run_jobs()
    assert [c["prompt"] for c in bot.perf.creates] == ["Here"]


async def test_a_rerun_counts_against_the_quota_and_is_refused_privately(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=1)
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    await bot.event(reaction_event_body(root.ts, user="UBOB0002"))
    [(_, user, text)] = bot.slack.ephemerals
    assert user == "UBOB0002" and "This channel has used its 1 job for today" in text
    assert len(bot.slack.roots(CHANNEL)) == 1 and len(bot.perf.creates) == 1


async def test_anyone_sees_the_quota_and_only_admins_change_it(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=5)
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("A lighthouse")

    shown = private_text(await bot.command("quota"))
    assert "Jobs: 1 of 5 used, 4 left" in shown and "Quotas reset at midnight UTC" in shown

    refused = private_text(await bot.command("quota set 50"))
    assert "Only workspace admins and owners" in refused

    assert "daily limits are now: 2 jobs" in private_text(await bot.command("quota set 2", user=ADMIN))
    assert "budget $25.00" in private_text(await bot.command("quota set $25", user=ADMIN))
    assert "Jobs: 1 of 2 used, 1 left" in private_text(await bot.command("quota"))
    assert "I can't set the quota to `lots`" in private_text(await bot.command("quota set lots", user=ADMIN))

    await bot.command("Second")
    assert "used its 2 jobs" in private_text(await bot.command("Third"))
    assert "daily limits are now: no limit, budget none" in private_text(await bot.command("quota set off", user=ADMIN))
    assert (await bot.command("Fourth, limits off")).body == ""
    assert "Jobs: 3 started, no limit" in private_text(await bot.command("quota"))


# --- reports -------------------------------------------------------------------------------------


def job(n: int, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "model": "veo-3",
        "estimated_cost_micros": 1_400_000,
        "state": JobState.DELIVERED,
        "perf_job_id": f"job_{n}",
    }
    return stored_job(**{**values, **fields})


def test_a_report_adds_up_the_jobs() -> None:
    jobs = [
        job(1, perf_cost_micros=1_500_000),  # charged cost wins over the estimate
        job(2, user_id="UBOB0002", model="pika", estimated_cost_micros=268_000, state=JobState.PROCESSING),
        job(3, user_id="UBOB0002", model="pika", estimated_cost_micros=268_000, state=JobState.FAILED),
        job(4, model="pika", state=JobState.FAILED, perf_job_id=None),  # never reached Perf: costs nothing
        job(5, state=JobState.UNKNOWN, perf_job_id=None),  # may have reached Perf: counted
    ]
    report = summarize(jobs, "2026-11-24")
    assert (report.jobs, report.delivered, report.failed, report.running) == (5, 1, 3, 1)
    assert report.cost_micros == 1_500_000 + 268_000 + 268_000 + 1_400_000
    assert report.busiest_model == "pika"
    assert [(p.user_id, p.jobs, p.cost_micros) for p in report.people] == [
        (USER, 3, 2_900_000),
        ("UBOB0002", 2, 536_000),
    ]


def test_the_due_report_day_follows_the_report_time_in_the_zone() -> None:
    zone = "Europe/Berlin"
    tuesday_0830 = 1_764_055_800.0  # 2025-11-25 08:30 in Berlin
    assert due_report_day(tuesday_0830, zone, (9, 0)).label == "2025-11-23"
    assert due_report_day(tuesday_0830 + 3600, zone, (9, 0)).label == "2025-11-24"


async def test_the_daily_report_is_posted_once_per_channel_and_day_across_restarts(make_bot: MakeBot) -> None:
    bot = await make_bot(report_channel="C0REPORTS")
    bot.slack.add_user(USER, display_name="alice")
    bot.slack.add_user("UBOB0002", real_name="Bob Stone")
    await bot.command("A lighthouse --model veo-3 --duration 8")
    await bot.command("A glacier --model pika", user="UBOB0002")
    await bot.command("Elsewhere", channel="C0THER01")
    await bot.run_jobs()

    assert await bot.services.reports.post_due_reports() == 0  # today's report is not due yet
    bot.clock.t = day_of(bot.clock.t, "UTC").end + 9 * 3600  # the next day, 09:00
    assert await bot.services.reports.post_due_reports() == 3
    assert await bot.services.reports.post_due_reports() == 0
    restarted = await make_bot(report_channel="C0REPORTS")
    assert await restarted.services.reports.post_due_reports() == 0

    [report] = [m for m in bot.slack.roots(CHANNEL) if "📊" in m.text]
    text = report.all_text()
    assert "Jobs: 2 · delivered 2 · failed 0" in text
    assert "Cost: $0.80" in text  # the fake Perf charges $0.40 per job
    assert "alice (1 job, $0.40)" in text and "Bob Stone (1 job, $0.40)" in text
    assert "<@" not in text, "a report must not ping anybody"
    [summary] = bot.slack.roots("C0REPORTS")
    assert "across 2 channels" in summary.all_text() and "Jobs: 3" in summary.all_text()
    assert len([m for m in bot.slack.roots("C0THER01") if "📊" in m.text]) == 1


async def test_report_today_answers_privately_with_totals_and_what_is_left(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=10)
    await bot.command("A lighthouse")
    await bot.command("A glacier", user="UBOB0002")
    await bot.run_jobs()
    text = private_text(await bot.command("report"))
    assert "Jobs: 2 · delivered 2" in text and "Cost: $0.80" in text
    assert "Left today: 8 of 10 jobs" in text and "By state: delivered 2" in text
