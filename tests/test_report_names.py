"""`/video report` within Slack's 3 s whatever the names cost: the ack names whom the bot knows (and a few
more), the rest follow through the command's response_url, asked behind every lookup a person waits for."""

from __future__ import annotations

import json
import re

import pytest

from bot.domain.job import JobState
from bot.features.people import NAMES_IN_ACK
from tests.conftest import USER, Bot, MakeBot
from tests.fakes.jobs import stored_job

ADMIN = "UADMIN01"
PEOPLE = [f"UPERSON{n:02d}" for n in range(40)]


async def forty_people_today(make_bot: MakeBot) -> Bot:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True, real_name="Ada")
    now = bot.clock.now()
    for n, user in enumerate(PEOPLE):
        bot.slack.add_user(user, real_name=f"Person {n:02d}")
        job = stored_job(
            created_at=now - 60 + n, user_id=user, state=JobState.DELIVERED, perf_job_id=f"job_{n}", finalized=True
        )
        await bot.services.store.insert_job(job)
    return bot


def asked_about(bot: Bot) -> list[str]:
    """Whom users.info was asked about, in order; not the requester, whose language is asked in the background."""
    calls = [str(params.get("user")) for method, params in bot.slack.calls if method == "users.info"]
    return [user for user in calls if user != USER]


@pytest.mark.slack_at_real_pace
async def test_a_report_for_40_people_acks_before_their_names_are_asked_at_slacks_real_pace(
    make_bot: MakeBot,
) -> None:
    bot = await forty_people_today(make_bot)
    answer = await bot.command("report")
    # 40 users.info at Tier 4's pace take about 20 s: the ack went out after at most a few of them.
    asked_by_ack = len(asked_about(bot))
    assert asked_by_ack <= NAMES_IN_ACK
    text = json.loads(answer.body)["text"]
    pending = re.search(r"Looking up (\d+) names", text)
    assert "Jobs: 40" in text and pending is not None and int(pending.group(1)) >= 40 - NAMES_IN_ACK

    # An admin's quota change meanwhile (its own users.info, cold) does not wait for the report's names.
    changed = json.loads((await bot.command("quota set 10", user=ADMIN)).body)["text"]
    assert "10" in changed and "admin" not in changed.lower()
    asked = asked_about(bot)
    assert ADMIN in asked
    assert not set(PEOPLE) <= set(asked[: asked.index(ADMIN)]), "the admin's check waited behind the report"
    await bot.services.named.close()


async def test_the_names_not_in_the_ack_replace_it_through_the_response_url(make_bot: MakeBot) -> None:
    bot = await forty_people_today(make_bot)
    first = json.loads((await bot.command("report")).body)["text"]
    assert "Looking up" in first and "UPERSON39" in first
    await bot.services.named.wait_idle()
    [(_, body)] = bot.slack.responses
    assert body["replace_original"] is True and body["response_type"] == "ephemeral"
    assert "Looking up" not in body["text"] and "UPERSON" not in body["text"]
    assert all(f"Person {n:02d}" in body["text"] for n in range(40))
    assert sorted(set(asked_about(bot))) == sorted(PEOPLE)  # each asked once


async def test_a_report_whose_people_are_known_needs_no_follow_up(make_bot: MakeBot) -> None:
    bot = await forty_people_today(make_bot)
    await bot.command("report")
    await bot.services.named.wait_idle()
    calls = len(asked_about(bot))
    again = json.loads((await bot.command("report", response_url=bot.slack.response_url("r2"))).body)["text"]
    await bot.services.named.wait_idle()
    assert "Looking up" not in again and "Person 39" in again
    assert len(asked_about(bot)) == calls and [name for name, _ in bot.slack.responses] == ["r1"]


async def test_report_month_names_its_people_after_the_ack_too(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, max_concurrent_jobs=0)
    bot.slack.add_user(ADMIN, is_admin=True, real_name="Ada")
    bot.perf.hold()
    for n, user in enumerate(PEOPLE[:10]):
        bot.slack.add_user(user, real_name=f"Person {n:02d}")
        await bot.command("a lighthouse", user=user)
    first = json.loads((await bot.command("report month", user=ADMIN)).body)
    assert "Looking up" in json.dumps(first)
    await bot.services.named.wait_idle()
    [(_, body)] = bot.slack.responses
    text = json.dumps(body["blocks"])
    assert body["replace_original"] is True and "Looking up" not in text
    assert all(f"Person {n:02d}" in text for n in range(10))
