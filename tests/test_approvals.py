"""Approval for expensive jobs, through signed requests and the fakes: who is asked, who may decide, one
decision exactly once (concurrent clicks, a redelivered click, a restart), denial, expiry, quotas given back."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from bot import messages
from bot.domain.job import Decision, Job, JobState
from bot.runtime.config import ConfigError, load_settings
from tests.conftest import CHANNEL, USER, Bot, MakeBot, button_click_body, private_text, reaction_event_body
from tests.fakes.blockkit import message_problem, view_problem
from tests.fakes.jobs import stored_job
from tests.fakes.slack import FakeMessage
from tests.test_block_limits import PINGS, assert_never_pings
from tests.test_form import payload_body
from tests.test_home import home_opened, text_of

BOB = "UBOB0002"
CAROL = "UCAROL03"
ADMIN = "UADMIN01"
APPROVALS = "CAPPROVE1"
EXPENSIVE = "A lighthouse in a storm --model veo-3 --duration 8"  # est. $2.80
CHEAP = "A small boat --model pika --duration 2"  # est. $0.13
LIMIT = 2_000_000  # $2.00


async def waiting_bot(make_bot: MakeBot, **overrides: Any) -> Bot:
    settings: dict[str, Any] = {"approval_over_micros": LIMIT, "approvers": (BOB, CAROL)}
    return await make_bot(**(settings | overrides))


def buttons(message: FakeMessage) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def click(copy: FakeMessage, job_id: str, user: str, action: str, *, action_ts: str = "1700001000.1") -> str:
    return button_click_body(
        copy.ts, job_id, user=user, channel=copy.channel, action_id=action, action_ts=action_ts, response_url=""
    )


def deny_submission(job_id: str, user: str, reason: str) -> str:
    view = {
        "type": "modal",
        "id": "V0001",
        "hash": "V0001-1",
        "callback_id": "approval_deny_form",
        "private_metadata": job_id,
        "state": {"values": {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}},
    }
    return payload_body({"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user}, "view": view})


async def run_for(bot: Bot, horizon: float = 600.0) -> None:
    """`bot.run_jobs`, but only as far as `horizon` seconds ahead: a waiting request's expiry is not reached."""
    until = bot.clock.now() + horizon
    for _ in range(200):
        await bot.step()
        due = await bot.services.store.next_due_at()
        if due is None or due > until:
            return
        bot.clock.t = max(bot.clock.t, due)
    raise AssertionError("jobs still due after 200 rounds")


async def asked(bot: Bot, text: str = EXPENSIVE, **kwargs: Any) -> Job:
    """A command for an expensive job, run until it waits for approval."""
    await bot.command(text, **kwargs)
    await run_for(bot)
    jobs = [job for job in await bot.services.store.jobs() if job.state == JobState.AWAITING_APPROVAL]
    assert len(jobs) == 1
    return jobs[0]


async def test_an_expensive_job_waits_for_approval_says_so_and_never_reaches_perf(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, max_concurrent_jobs=1)
    job = await asked(bot)
    [root] = bot.slack.roots(CHANNEL)
    assert "Waiting for approval" in root.all_text() and "cancel" in buttons(root)
    assert "has not been sent to Perf" in buttons(root)["cancel"]["confirm"]["text"]["text"]
    await bot.step()
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert "⏳ Waiting for approval: $2.80 is over this workspace's $2.00 limit" in progress.text
    [copy] = bot.slack.roots(APPROVALS)
    assert (
        f"<@{USER}>" in copy.all_text() and "$2.80" in copy.all_text() and "A lighthouse in a storm" in copy.all_text()
    )
    assert set(buttons(copy)) == {"approval_approve", "approval_deny"}
    assert buttons(copy)["approval_approve"]["value"] == job.id

    # A cheap job meanwhile takes the account's only slot: the one awaiting approval is not in line.
    await bot.command(CHEAP)
    await run_for(bot)
    assert len(bot.perf.creates) == 1 and bot.perf.creates[0]["model"] == "pika"
    bot.clock.advance(3600)
    await run_for(bot)
    assert len(bot.perf.creates) == 1
    assert job.id in private_text(await bot.command("status"))


async def test_an_approver_approves_and_the_job_runs_once_and_every_copy_shows_who(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot)  # no approval channel: each approver by direct message
    job = await asked(bot)
    copies = [*bot.slack.roots(f"D{BOB}"), *bot.slack.roots(f"D{CAROL}")]
    assert len(copies) == 2 and not bot.slack.roots(f"D{USER}")

    await bot.interaction(click(copies[1], job.id, CAROL, "approval_approve"))
    await bot.run_jobs()
    done = await bot.services.store.get_job(job.id, team_id=None)
    assert done is not None and done.state == JobState.DELIVERED
    assert done.approval == Decision.APPROVED and done.approval_by == CAROL
    assert len(bot.perf.creates) == 1
    for copy in copies:
        assert f"✅ Approved by <@{CAROL}>" in copy.all_text() and not buttons(copy)
    [root] = bot.slack.roots(CHANNEL)
    assert "✅ Done" in root.all_text()


async def test_someone_else_clicking_is_refused_privately(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    for action in ("approval_approve", "approval_deny"):
        body = button_click_body(
            copy.ts, job.id, user="UDAVE004", channel=APPROVALS, action_id=action, response_url=bot.slack.response_url()
        )
        await bot.interaction(body)
    assert [r[1]["text"] for r in bot.slack.responses] == [
        "Only workspace admins and the approvers named in VIDEOBOT_APPROVERS can decide this request."
    ] * 2
    assert not bot.slack.views
    stored = await bot.services.store.get_job(job.id, team_id=None)
    assert stored is not None and stored.state == JobState.AWAITING_APPROVAL


async def test_a_workspace_admin_may_approve_too(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    bot.slack.add_user(ADMIN, is_admin=True)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, job.id, ADMIN, "approval_approve"))
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED and f"Approved by <@{ADMIN}>" in copy.all_text()


async def test_two_approvers_at_once_and_a_redelivered_click_give_one_decision(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    bob_url, carol_url = bot.slack.response_url("bob"), bot.slack.response_url("carol")
    clicks = [
        button_click_body(
            copy.ts, job.id, user=BOB, channel=APPROVALS, action_id="approval_approve", response_url=bob_url
        ),
        button_click_body(
            copy.ts, job.id, user=BOB, channel=APPROVALS, action_id="approval_approve", response_url=bob_url
        ),
        button_click_body(
            copy.ts, job.id, user=CAROL, channel=APPROVALS, action_id="approval_approve", response_url=carol_url
        ),
    ]
    await asyncio.gather(*(bot.interaction(body) for body in clicks))
    await bot.run_jobs()
    events = [detail for _, _, detail in await bot.services.store.job_events(job.id)]
    assert sum(detail.startswith("approval_approved") for detail in events) == 1
    assert len(bot.perf.creates) == 1 and (await bot.only_job()).state == JobState.DELIVERED
    decided_by = (await bot.only_job()).approval_by
    # Each click that lost was told privately who decided.
    assert len(bot.slack.responses) == 2
    assert all(f"already decided: ✅ Approved by <@{decided_by}>" in r[1]["text"] for r in bot.slack.responses)


async def test_a_denial_with_a_reason_ends_the_job_and_gives_its_quota_place_back(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, daily_jobs_per_channel=1)
    job = await asked(bot)
    assert "This channel has used its 1 job for today" in private_text(await bot.command(CHEAP))
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, job.id, BOB, "approval_deny"))
    [form] = bot.slack.views.values()
    assert form["callback_id"] == "approval_deny_form" and form["private_metadata"] == job.id
    assert (await bot.only_job()).state == JobState.AWAITING_APPROVAL, "opening the form decides nothing"

    await bot.interaction(deny_submission(job.id, BOB, "Too pricey <!channel>"))
    await bot.run_jobs()
    denied = await bot.only_job()
    assert denied.state == JobState.FAILED and denied.finalized and not bot.perf.creates
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    reason = "“Too pricey &lt;!channel&gt;”"
    assert f"❌ Denied by <@{BOB}>: {reason}" in progress.text and "nothing was sent to Perf" in progress.text
    assert f"Denied by <@{BOB}>: {reason}" in root.all_text() and f"Denied by <@{BOB}>" in copy.all_text()
    assert not buttons(copy)
    # Its place in the channel's quota is free again.
    await bot.command(CHEAP)
    await bot.run_jobs()
    assert len(bot.perf.creates) == 1


async def test_a_denial_form_sent_after_the_decision_is_refused_on_its_field(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, job.id, CAROL, "approval_approve"))
    response = await bot.interaction(deny_submission(job.id, BOB, "no"))
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors" and f"Approved by <@{CAROL}>" in answer["errors"]["reason"]
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED


async def test_an_undecided_request_expires_after_the_hours_set(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, approval_hours=2.0, daily_jobs_per_channel=1)
    job = await asked(bot)
    bot.clock.advance(2 * 3600 - 60)
    await run_for(bot, 30)
    assert (await bot.only_job()).state == JobState.AWAITING_APPROVAL
    bot.clock.advance(60)
    await bot.run_jobs()
    expired = await bot.only_job()
    assert expired.state == JobState.FAILED and expired.approval == Decision.EXPIRED and not bot.perf.creates
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert "⌛ Not approved in time (nobody approved it within 2 h" in progress.text
    [copy] = bot.slack.roots(APPROVALS)
    assert "⌛ Not approved in time" in copy.all_text() and not buttons(copy)
    # A click after the expiry decides nothing.
    await bot.interaction(
        button_click_body(
            copy.ts,
            job.id,
            user=BOB,
            channel=APPROVALS,
            action_id="approval_approve",
            response_url=bot.slack.response_url(),
        )
    )
    assert "already decided: ⌛" in bot.slack.responses[-1][1]["text"]
    await bot.command(CHEAP)
    await bot.run_jobs()
    assert len(bot.perf.creates) == 1, "the expired job gave its quota place back"


async def test_a_restart_between_the_click_and_the_answer_still_gives_one_outcome(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    # The process dies after the click's decision is written, before any step ran on it: its poller takes
    # no more work, so the click stores its decision and nothing else happens.
    await bot.services.poller.stop(0.0)
    await bot.interaction(click(copy, job.id, BOB, "approval_approve"))
    assert "approval_approve" in buttons(copy)
    stored = await bot.services.store.get_job(job.id, team_id=None)
    assert stored is not None and stored.state == JobState.ACCEPTED and stored.approval_edits_due
    again = await waiting_bot(make_bot, approval_channel=APPROVALS)
    await again.interaction(click(copy, job.id, BOB, "approval_approve", action_ts="1700001000.2"))
    await again.run_jobs()
    assert (await again.only_job()).state == JobState.DELIVERED and len(again.perf.creates) == 1
    assert f"✅ Approved by <@{BOB}>" in copy.all_text() and not buttons(copy)


async def test_an_approvers_own_job_needs_no_approval_unless_approve_own_is_off(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    await bot.command(EXPENSIVE, user=BOB)
    await bot.run_jobs()
    own = await bot.only_job()
    assert own.state == JobState.DELIVERED and own.approval == Decision.APPROVED and own.approval_by == BOB
    assert not bot.slack.roots(APPROVALS)


async def test_with_approve_own_off_an_approvers_own_job_waits_for_another(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approve_own=False)
    job = await asked(bot, user=BOB)
    assert not bot.slack.roots(f"D{BOB}")
    [copy] = bot.slack.roots(f"D{CAROL}")
    await bot.interaction(
        button_click_body(
            copy.ts,
            job.id,
            user=BOB,
            channel=copy.channel,
            action_id="approval_approve",
            response_url=bot.slack.response_url(),
        )
    )
    assert "another approver has to decide it" in bot.slack.responses[-1][1]["text"]
    await bot.interaction(click(copy, job.id, CAROL, "approval_approve"))
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED


async def test_the_requester_may_cancel_while_it_waits_and_the_copies_say_so(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    answer = private_text(await bot.command(f"cancel {job.id}"))
    assert answer == f"Cancelled `{job.id}` while it waited for approval: nothing was sent to Perf or charged."
    await bot.run_jobs()
    cancelled = await bot.only_job()
    assert cancelled.state == JobState.CANCELLED and cancelled.finalized and not bot.perf.creates
    [copy] = bot.slack.roots(APPROVALS)
    assert "Cancelled while it waited for approval" in copy.all_text() and not buttons(copy)
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert "nothing was sent to Perf or charged" in progress.text


async def test_a_job_under_the_limit_runs_as_before(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    await bot.command(CHEAP)
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED and not bot.slack.roots(APPROVALS)


# --- the settings, checked at start ----------------------------------------------------------------

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PERF_API_KEY": "pk_test_1"}


def test_approval_settings_default_to_no_approval_and_read_as_given() -> None:
    settings = load_settings(BASE, dotenv_path=None)
    assert settings.approval_over_micros == 0 and settings.approve_own and settings.approval_hours == 24
    settings = load_settings(
        {
            **BASE,
            "VIDEOBOT_APPROVAL_OVER_USD": "$5",
            "VIDEOBOT_APPROVERS": f"{BOB}, {CAROL},{BOB}",
            "VIDEOBOT_APPROVAL_CHANNEL": APPROVALS,
            "VIDEOBOT_APPROVE_OWN": "0",
            "VIDEOBOT_APPROVAL_HOURS": "4.5",
        },
        dotenv_path=None,
    )
    assert settings.approval_over_micros == 5_000_000 and settings.approvers == (BOB, CAROL)
    assert settings.approval_channel == APPROVALS and not settings.approve_own and settings.approval_hours == 4.5


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"VIDEOBOT_APPROVAL_OVER_USD": "5"}, "nobody would be asked: set VIDEOBOT_APPROVAL_CHANNEL"),
        ({"VIDEOBOT_APPROVAL_OVER_USD": "five"}, "VIDEOBOT_APPROVAL_OVER_USD must be an amount in dollars"),
        ({"VIDEOBOT_APPROVERS": "bob"}, "VIDEOBOT_APPROVERS takes Slack user IDs such as U0123ABCD"),
        ({"VIDEOBOT_APPROVAL_CHANNEL": "#approvals"}, "VIDEOBOT_APPROVAL_CHANNEL takes channel IDs"),
        ({"VIDEOBOT_APPROVE_OWN": "yes"}, "VIDEOBOT_APPROVE_OWN must be 0 or 1"),
        ({"VIDEOBOT_APPROVAL_HOURS": "0"}, "VIDEOBOT_APPROVAL_HOURS must be between 0.1 and 720"),
        ({"VIDEOBOT_APPROVAL_HOURS": "1d"}, "VIDEOBOT_APPROVAL_HOURS must be a number"),
        # Two channels would silently ask in the first alone.
        ({"VIDEOBOT_APPROVAL_CHANNEL": "C0123ABCD,C0123ABCE"}, "VIDEOBOT_APPROVAL_CHANNEL takes one channel ID"),
        ({"VIDEOBOT_REPORT_CHANNEL": "C0123ABCD,C0123ABCE"}, "VIDEOBOT_REPORT_CHANNEL takes one channel ID"),
    ],
)
def test_a_bad_approval_setting_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings({**BASE, **change}, dotenv_path=None)


# --- the approval surfaces at Block Kit's limits ----------------------------------------------------


@pytest.mark.parametrize("decision", [None, *Decision])
def test_the_request_and_its_decided_copy_fit_at_the_limits_and_never_ping(decision: Decision | None) -> None:
    longest = stored_job(
        prompt=PINGS,
        state=JobState.AWAITING_APPROVAL if decision is None else JobState.FAILED,
        approval=decision.value if decision else None,
        approval_by="UBOB0002",
        approval_note=("<!channel> & " * 100)[:500],
        error_message="nobody approved it within 24 h; nothing was sent to Perf or charged",
    )
    payloads = [
        messages.approval_request(longest, limit_micros=LIMIT, hours=24),
        messages.approval_decided(longest, limit_micros=LIMIT),
        messages.progress_message(longest, approval_limit_micros=LIMIT),
    ]
    for payload in payloads:
        assert message_problem(payload) is None
        assert_never_pings(payload)
    assert view_problem(messages.deny_form(longest.id)) is None


def test_a_denial_reason_is_kept_to_its_limit() -> None:
    view = {
        "private_metadata": "vb_1",
        "state": {"values": {"reason": {"reason_input": {"value": "  " + "x" * 900}}}},
    }
    assert messages.deny_form_values(view) == ("vb_1", "x" * 500)
    assert messages.deny_form_values({"private_metadata": "vb_1", "state": {"values": {}}}) == ("vb_1", "")


async def test_the_requesters_app_home_shows_the_wait_and_then_the_denial(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    await bot.event(home_opened(USER))
    await bot.services.home.wait_idle()
    job = await asked(bot)
    assert "Waiting for approval" in text_of(bot.slack.homes[USER][-1])
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, job.id, BOB, "approval_deny"))
    await bot.interaction(deny_submission(job.id, BOB, "Not this week"))
    await bot.run_jobs()
    assert "❌ Denied by" in text_of(bot.slack.homes[USER][-1])


async def test_a_request_nobody_can_be_asked_about_ends_at_once_and_says_why(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approvers=(BOB,), approve_own=False)
    await bot.command(EXPENSIVE, user=BOB)
    await run_for(bot)
    ended = await bot.only_job()
    assert ended.state == JobState.FAILED and not bot.perf.creates
    [root] = bot.slack.roots(CHANNEL)
    assert "nobody else can approve it (VIDEOBOT_APPROVE_OWN=0" in root.all_text()


async def test_a_request_no_approver_could_be_sent_ends_the_job_and_says_so(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot)
    for _ in (BOB, CAROL):
        bot.slack.fail_next("conversations.open", error="user_not_found")
    await bot.command(EXPENSIVE)
    await run_for(bot)
    ended = await bot.only_job()
    assert ended.state == JobState.FAILED and not bot.perf.creates
    [root] = bot.slack.roots(CHANNEL)
    assert "could not be sent to any of VIDEOBOT_APPROVERS" in root.all_text()


async def test_a_private_expensive_job_waits_in_the_requesters_direct_messages(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot, text=EXPENSIVE + " --private")
    assert not bot.slack.roots(CHANNEL)
    [root] = bot.slack.roots(f"D{USER}")
    assert "Waiting for approval" in root.all_text()
    [copy] = bot.slack.roots(APPROVALS)
    assert "in a direct message" in copy.all_text() and CHANNEL not in copy.all_text()
    await bot.interaction(click(copy, job.id, BOB, "approval_approve"))
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED and not bot.slack.roots(CHANNEL)
    assert "✅ Done" in root.all_text()


async def test_a_rerun_of_an_expensive_job_waits_for_approval_too(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    job = await asked(bot)
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, job.id, BOB, "approval_approve"))
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    await bot.event(reaction_event_body(root.ts, user="UDAVE004"))  # not an approver
    await run_for(bot)
    rerun = [j for j in await bot.services.store.jobs() if j.rerun_of == job.id]
    assert [j.state for j in rerun] == [JobState.AWAITING_APPROVAL] and len(bot.perf.creates) == 1
    assert len(bot.slack.roots(APPROVALS)) == 2
    [_, new_root] = bot.slack.roots(CHANNEL)
    assert "Another take of" in new_root.all_text() and "Waiting for approval" in new_root.all_text()
