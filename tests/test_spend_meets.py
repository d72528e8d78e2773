"""Where approvals, budgets and the account's limit meet each other and issue 18's drafts and remixes:
which refusal comes first, what a job waiting for approval holds, and what each view shows of it."""

from __future__ import annotations

import json

from bot.domain.job import JobState
from storage.spend import WORKSPACE
from tests.conftest import CHANNEL, USER, Bot, MakeBot, private_text
from tests.test_approvals import APPROVALS, BOB, EXPENSIVE, LIMIT, asked, click, deny_submission, run_for, waiting_bot
from tests.test_budget_notices import all_texts
from tests.test_drafts import finished_draft, full_version_click
from tests.test_home import home_opened, text_of
from tests.test_remix import finished, open_remix, submission

CAROL_REQUESTER = "UREQ0003"
ADMIN = "UADMIN01"


def notices(bot: Bot) -> list[str]:
    return [m.text for m in bot.slack.roots(CHANNEL) if m.text.startswith("⚠️")]


async def test_a_job_over_a_budget_is_refused_before_it_would_wait_for_approval(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, monthly_budget_micros=2_500_000)
    refusal = private_text(await bot.command(EXPENSIVE))  # est. $2.80: over both
    assert "the workspace past its monthly budget" in refusal and "It would fit as `--model veo-3 --duration" in refusal
    assert not await bot.services.store.jobs() and not bot.slack.roots(APPROVALS)


async def test_a_job_waiting_for_approval_holds_the_budget_and_a_denial_gives_it_back(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, monthly_budget_micros=5_000_000)
    waiting = await asked(bot)
    refusal = private_text(await bot.command(EXPENSIVE, user=CAROL_REQUESTER))
    assert "$2.80 of $5.00 used, $2.20 left" in refusal
    await bot.interaction(deny_submission(waiting.id, BOB, "no"))
    await bot.run_jobs()
    assert (await bot.command(EXPENSIVE, user=CAROL_REQUESTER)).body == ""


async def test_the_accounts_daily_jobs_count_a_waiting_job_until_it_is_denied(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, account_daily_jobs=1)
    waiting = await asked(bot)
    assert "makes at most 1 job a day" in private_text(await bot.command("A small boat --model pika --duration 2"))
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, waiting.id, BOB, "approval_deny"))
    await bot.interaction(deny_submission(waiting.id, BOB, "no"))
    await bot.run_jobs()
    assert (await bot.command("A small boat --model pika --duration 2")).body == ""


async def test_a_drafts_full_version_over_the_approval_limit_waits_for_it(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    root = await finished_draft(bot)  # the draft is cheap: it ran at once
    [draft] = await bot.services.store.jobs()
    assert draft.state == JobState.DELIVERED and draft.estimated_cost_micros < LIMIT
    await bot.interaction(full_version_click(root, draft.id, user=USER))  # not an approver
    await run_for(bot)
    full = [job for job in await bot.services.store.jobs() if job.full_of_draft]
    assert [job.state for job in full] == [JobState.AWAITING_APPROVAL]
    [copy] = bot.slack.roots(APPROVALS)
    assert "$2.80" in copy.all_text() and len(bot.perf.creates) == 1


async def test_a_drafts_full_version_over_a_budget_is_refused_privately_with_what_fits(make_bot: MakeBot) -> None:
    bot = await make_bot(monthly_budget_micros=2_000_000)
    root = await finished_draft(bot)
    [draft] = await bot.services.store.jobs()
    await bot.interaction(full_version_click(root, draft.id))
    [(channel, user, text)] = bot.slack.ephemerals
    assert (channel, user) == (CHANNEL, BOB)
    assert "This job (est. $2.80) would take the workspace past its monthly budget" in text
    assert "It would fit as `--model veo-3 --duration" in text
    assert len(await bot.services.store.jobs()) == 1


async def test_a_remix_over_a_budget_is_refused_on_the_form_and_over_the_approval_limit_waits(
    make_bot: MakeBot,
) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, monthly_budget_micros=4_000_000)
    root = await finished(bot, "A small boat --model pika --duration 2")
    view_id, view = await open_remix(bot, root, user=USER)  # not an approver
    remixed = {"model": "veo-3", "user": USER}
    refused = json.loads((await bot.interaction(submission(view_id, view, duration="20", **remixed))).body)
    assert "would take the workspace past its monthly budget" in refused["errors"]["prompt"]
    assert "It would fit as" in refused["errors"]["prompt"]
    assert (await bot.interaction(submission(view_id, view, duration="8", **remixed))).body == ""
    await run_for(bot)
    [remix] = [job for job in await bot.services.store.jobs() if job.remix]
    assert remix.state == JobState.AWAITING_APPROVAL and len(bot.slack.roots(APPROVALS)) == 1
    spent = await bot.services.store.spent("T0001", WORKSPACE, "", (0.0, 1e12))
    assert spent.cost_micros == 400_000 + remix.estimated_cost_micros


async def test_app_home_shows_what_each_job_costs_as_the_budgets_count_it(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, daily_budget_micros_per_user=10_000_000)
    await bot.command("A small boat --model pika --duration 2")
    await bot.run_jobs()  # delivered: Perf charged $0.40
    denied = await asked(bot, "Denied one --model veo-3 --duration 8")
    await bot.interaction(deny_submission(denied.id, BOB, "no"))
    await run_for(bot)
    await asked(bot)  # est. $2.80, still waiting
    await bot.event(home_opened(USER))
    text = text_of(bot.slack.homes[USER][-1])
    assert "Denied by" in text and "veo-3 · nothing charged" in text, "a denied job cost nothing"
    assert "Waiting for approval (see thread) · veo-3 · est. $2.80" in text
    assert "pika · $0.40" in text
    # The head, the chart and the person's budget count the same: the charged cost and the waiting estimate.
    assert "You spent *$3.20* today" in text and "You today: $3.20 of $10.00" in text


async def test_a_job_waiting_for_approval_does_not_set_off_the_80_percent_notice(make_bot: MakeBot) -> None:
    """It holds its estimate against the budget, but may be denied: the notice, posted once per month ever,
    waits for spending that goes ahead, or it would be spent on a warning the denial made untrue."""
    bot = await waiting_bot(
        make_bot, approval_channel=APPROVALS, daily_jobs_per_channel=0, approval_over_micros=4_000_000
    )
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("quota set month $5", user=ADMIN)
    waiting = await asked(bot, "Big one --model veo-3 --duration 12")  # est. $4.20 of $5: 84%, waiting
    await bot.command("A small boat --model pika --duration 2")
    await run_for(bot)  # delivered, charged $0.40
    assert notices(bot) == []
    await bot.interaction(deny_submission(waiting.id, BOB, "no"))
    await run_for(bot)

    bot.perf.hold()  # stays at Perf, so its estimate counts: $0.40 + $3.85 = $4.25, 85%
    await bot.command("Real spending --model veo-3 --duration 11")
    await run_for(bot, 1)
    [notice] = notices(bot)
    assert "This channel has used 85% of its monthly videobot budget" in notice and "$4.25 of $5.00" in notice


async def test_an_approved_job_that_takes_a_budget_past_80_percent_warns(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, daily_jobs_per_channel=0)
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("quota set month $5", user=ADMIN)
    waiting = await asked(bot, "Big one --model veo-3 --duration 12")
    bot.perf.hold()
    [copy] = bot.slack.roots(APPROVALS)
    await bot.interaction(click(copy, waiting.id, BOB, "approval_approve"))
    await run_for(bot, 1)
    [notice] = notices(bot)
    assert "This channel has used 84% of its monthly videobot budget" in notice


async def test_the_months_report_says_what_jobs_awaiting_approval_hold_and_leaves_denied_ones_out(
    make_bot: MakeBot,
) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS, monthly_budget_micros=50_000_000)
    await bot.command("A small boat --model pika --duration 2")
    await run_for(bot)  # charged $0.40
    denied = await asked(bot, "Denied one --model veo-3 --duration 10")
    await bot.interaction(deny_submission(denied.id, BOB, "no"))
    await run_for(bot)
    await asked(bot)  # est. $2.80, waiting
    body = json.loads((await bot.command("report month", user=BOB)).body)  # an approver sees it all
    text = " ".join(all_texts(body["blocks"]))
    assert "videobot this month* (2027-01): $3.20 for 2 jobs" in text
    assert "veo-3 $2.80 (1 job) · pika $0.40 (1 job)" in text
    assert "Of that, $2.80 is held by jobs awaiting approval, charged only if approved." in text
    assert "Workspace budget: $3.20 of $50.00 spent, $46.80 left." in text


async def test_status_shows_a_waiting_job_and_only_its_requester_or_an_admin_may_cancel_it(make_bot: MakeBot) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    waiting = await asked(bot)
    status = private_text(await bot.command("status"))
    assert waiting.id in status and "Waiting for approval" in status
    refused = private_text(await bot.command(f"cancel {waiting.id}", user=CAROL_REQUESTER))
    assert refused == "Only the person who asked for this video, or a workspace admin, can cancel it."
    assert (await bot.only_job()).state == JobState.AWAITING_APPROVAL


async def test_the_days_report_counts_denied_and_waiting_jobs_apart_from_failures_and_running_ones(
    make_bot: MakeBot,
) -> None:
    bot = await waiting_bot(make_bot, approval_channel=APPROVALS)
    await bot.command("A small boat --model pika --duration 2")
    await run_for(bot)
    denied = await asked(bot, "Denied one --model veo-3 --duration 10")
    await bot.interaction(deny_submission(denied.id, BOB, "no"))
    await run_for(bot)
    await asked(bot)
    report = private_text(await bot.command("report"))
    assert "• Jobs: 3 · delivered 1 · failed 0 · not approved 1 · awaiting approval 1\n" in report
    assert "• Cost: $3.20" in report
