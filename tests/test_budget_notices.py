"""Warnings and visibility for budgets in money (issue 19): one notice when a budget passes 80%, once per
budget and period ever, and `/video report month`, through signed slash commands and the fakes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from bot import messages
from bot.domain.quotas import month_of
from tests.conftest import CHANNEL, USER, Bot, MakeBot, event_callback
from tests.fakes.blockkit import message_problem, view_problem
from tests.fakes.jobs import stored_job

ADMIN = "UADMIN01"
ELSEWHERE = "C0THER001"
REPORTS = "C0REPORTS"


def all_texts(node: Any) -> list[str]:
    """Every text a person reads inside blocks."""
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [t for value in node.values() for t in all_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in all_texts(item)]
    return []


def notices(bot_slack_roots: list[str]) -> list[str]:
    return [text for text in bot_slack_roots if text.startswith("⚠️")]


async def test_a_channels_monthly_budget_warns_once_when_it_passes_80_percent_even_after_a_restart(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("quota set month $5", user=ADMIN)
    await bot.command("A --model veo-3 --duration 8")  # $2.80: 56%
    await bot.run_jobs()  # charged $0.40: 8%
    await bot.command("B --model veo-3 --duration 10")  # $3.50 more: $3.90, 78%
    await bot.run_jobs()  # charged $0.40 again: $0.80
    assert notices([m.text for m in bot.slack.roots(CHANNEL)]) == []

    bot.perf.hold()  # stays at Perf, so its estimate counts: $0.80 + $3.50 = $4.30, 86%
    await bot.command("C --model veo-3 --duration 10")
    await bot.step()
    [notice] = notices([m.text for m in bot.slack.roots(CHANNEL)])
    assert "This channel has used 86% of its monthly videobot budget (2027-01)" in notice
    assert "$4.30 of $5.00 spent, $0.70 left" in notice
    assert "resets on 1 February at midnight UTC" in notice and "/video quota set month" in notice

    await bot.command("D --model luma-dream-machine --duration 1")
    await bot.step()
    restarted = await make_bot(daily_jobs_per_channel=0)
    await restarted.command("E --model luma-dream-machine --duration 1", user="UOTHER01")
    await restarted.step()
    assert len(notices([m.text for m in bot.slack.roots(CHANNEL)])) == 1
    assert notices([m.text for m in bot.slack.roots(ELSEWHERE)]) == []

    # A new month is a new period: it warns again there.
    bot.perf.release()
    await restarted.run_jobs()
    restarted.clock.t = month_of(restarted.clock.t, "UTC").end + 60
    await restarted.command("F --model veo-3 --duration 12")  # $4.20: 84% of February's $5
    await restarted.step()
    later = notices([m.text for m in bot.slack.roots(CHANNEL)])
    assert len(later) == 2 and "(2027-02)" in later[1]


async def test_the_workspace_budget_warns_in_the_report_channel(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, monthly_budget_micros=4_000_000, report_channel=REPORTS)
    bot.perf.hold()
    await bot.command("Here --model veo-3 --duration 6")  # $2.10
    await bot.command("There --model veo-3 --duration 4", channel=ELSEWHERE)  # $1.40: $3.50, 87%
    await bot.step()
    [notice] = notices([m.text for m in bot.slack.roots(REPORTS)])
    assert "The workspace has used 87% of its monthly videobot budget" in notice
    assert "VIDEOBOT_MONTHLY_BUDGET_USD" in notice
    assert notices([m.text for m in bot.slack.roots(CHANNEL)] + [m.text for m in bot.slack.roots(ELSEWHERE)]) == []


async def test_a_channels_daily_budget_warns_in_the_channel(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_channel=1_000_000)
    bot.perf.hold()
    await bot.command("A --duration 9")  # runway-gen3, $0.90
    await bot.step()
    [notice] = notices([m.text for m in bot.slack.roots(CHANNEL)])
    assert "used 90% of its daily videobot budget" in notice and "resets at midnight UTC" in notice


async def _month_of_three_jobs(make_bot: MakeBot, **overrides: Any) -> Bot:
    bot = await make_bot(daily_jobs_per_channel=0, monthly_budget_micros=50_000_000, **overrides)
    bot.slack.add_user(ADMIN, is_admin=True)
    bot.slack.add_user(USER, display_name="alice")
    bot.slack.add_user("UBOB0002", real_name="Bob <!channel> Stone")
    bot.perf.hold()
    await bot.command("A --model veo-3 --duration 8")  # $2.80
    await bot.command("B --model pika", user="UBOB0002")  # $0.268
    await bot.command("C --model pika", user="UBOB0002", channel=ELSEWHERE)  # $0.268
    # Each job's root is posted before the clock jumps, as it would be within a second: a root still unposted
    # a month later is a job that could not start, which ends it unpaid (and out of the report).
    await bot.step()
    bot.clock.t = month_of(bot.clock.t, "UTC").start - 3600  # December's job is not in January's report
    await bot.command("Last year --model veo-3 --duration 60")
    await bot.step()
    bot.clock.t = month_of(bot.clock.t + 7200, "UTC").start + 17 * 86400
    return bot


async def test_report_month_answers_an_admin_privately_by_channel_person_and_model(make_bot: MakeBot) -> None:
    bot = await _month_of_three_jobs(make_bot)
    answer = await bot.command("report month", user=ADMIN)
    body = json.loads(answer.body)
    assert body["response_type"] == "ephemeral"
    text = " ".join(all_texts(body["blocks"]))
    assert "videobot this month* (2027-01): $3.34 for 3 jobs" in text
    assert f"<#{CHANNEL}> $3.07 (2 jobs) · <#{ELSEWHERE}> $0.27 (1 job)" in text
    assert "alice $2.80 (1 job) · Bob &lt;!channel&gt; Stone $0.54 (2 jobs)" in text
    assert "veo-3 $2.80 (1 job) · pika $0.54 (2 jobs)" in text
    assert "Workspace budget: $3.34 of $50.00 spent, $46.66 left." in text
    assert "<@" not in text and "<!channel>" not in text


async def test_report_month_shows_a_member_their_own_spend_and_no_other_persons_or_channels(
    make_bot: MakeBot,
) -> None:
    bot = await _month_of_three_jobs(make_bot)
    body = json.loads((await bot.command("report month", user="UBOB0002")).body)
    assert body["response_type"] == "ephemeral"
    text = " ".join(all_texts(body["blocks"]))
    assert "videobot this month* (2027-01): $3.34 for 3 jobs" in text
    assert "*You*\n$0.54 (2 jobs)" in text
    assert "shown to workspace admins and approvers only" in text
    assert "alice" not in text and "Bob" not in text and "$2.80 (1 job) ·" not in text.split("By model")[0]
    assert f"<#{CHANNEL}>" not in text and f"<#{ELSEWHERE}>" not in text
    assert "By person" not in text and "By channel" not in text
    assert "veo-3 $2.80 (1 job) · pika $0.54 (2 jobs)" in text  # by model: no one's own detail


async def test_report_month_shows_a_listed_approver_every_channel_and_person(make_bot: MakeBot) -> None:
    bot = await _month_of_three_jobs(make_bot, approvers=("UCAROL03",))
    bot.slack.add_user("UCAROL03", real_name="Carol")  # not an admin: an approver by VIDEOBOT_APPROVERS
    text = " ".join(all_texts(json.loads((await bot.command("report month", user="UCAROL03")).body)["blocks"]))
    assert f"<#{CHANNEL}> $3.07 (2 jobs) · <#{ELSEWHERE}> $0.27 (1 job)" in text
    assert "alice $2.80 (1 job) · Bob &lt;!channel&gt; Stone $0.54 (2 jobs)" in text


def test_the_month_report_stays_within_block_kits_limits_with_hundreds_of_channels_and_people() -> None:
    rows = [messages.Spending(f"C{n:08d}", n, n * 1_000_000) for n in range(300)]
    people = [messages.Spending(f"U{n:08d}", 1, 268_000) for n in range(25)]
    names = {row.key: "Bartholomew <!here> " + "x" * 60 for row in people}
    report = messages.month_report(
        "2027-01",
        messages.Spending("", 999, 10**12),
        rows,
        people,
        rows[:4],
        names,
        messages.MonthBudget("on 1 February", 10**12, 10**11),
        275,
    )
    assert message_problem(report) is None
    texts = all_texts(report["blocks"])
    assert all(len(text) <= messages.MAX_TEXT for text in texts)
    by_person = next(text for text in texts if text.startswith("*By person*"))
    assert by_person.endswith("more") and "<!here>" not in by_person
    by_channel = next(text for text in texts if text.startswith("*By channel*"))
    assert by_channel.endswith("more")


def test_a_budget_notice_is_valid_block_kit() -> None:
    notice = messages.BudgetNotice("workspace", "month", "2027-01", 4_300_000, 5_000_000, "on 1 February")
    message = messages.budget_notice(notice)
    assert message_problem(message) is None
    assert "The workspace has used 86% of its monthly videobot budget (2027-01)" in message["text"]


# --- App Home ---------------------------------------------------------------------------------------


def home_opened(user: str, event_id: str = "EvH1") -> str:
    return event_callback({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}, event_id)


def chart_lines(view: dict[str, Any], title: str) -> list[str]:
    [chart] = [text for text in all_texts(view["blocks"]) if text.startswith(f"*{title}*")]
    return chart.split("```")[1].splitlines()


async def test_app_home_charts_the_last_30_days_and_the_month_against_each_budget(make_bot: MakeBot) -> None:
    bot = await make_bot(
        daily_jobs_per_channel=0, monthly_budget_micros=10_000_000, daily_budget_micros_per_user=5_000_000
    )
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("quota set month $5", user=ADMIN)
    bot.perf.hold()
    bot.clock.advance(-2 * 86_400)  # two days ago: $2.80 (Perf never finished it, so its estimate)
    await bot.command("Earlier --model veo-3 --duration 8")
    await bot.step()
    bot.clock.advance(2 * 86_400)
    await bot.command("Today --model veo-3 --duration 4")  # $1.40
    await bot.command("Someone else's", user="UOTHER01", channel=ELSEWHERE)  # $0.40, runway-gen3 4 s
    await bot.step()

    await bot.event(home_opened(USER))
    mine = bot.slack.homes[USER][-1]
    assert message_problem({"blocks": mine["blocks"]}) is None and len(mine["blocks"]) <= 100
    lines = chart_lines(mine, "Your spending")
    assert len(lines) == 30
    assert lines[-1].startswith("Fri 15 Jan ") and lines[-1].endswith("$1.40")
    assert lines[-3].startswith("Wed 13 Jan " + "█" * 24) and lines[-3].endswith("$2.80")
    assert lines[-2].endswith("·") and lines[0].startswith("Thu 17 Dec")
    text = " ".join(all_texts(mine["blocks"]))
    assert "*Your spending*: $4.20 in 30 days, most on Wed 13 Jan ($2.80)" in text
    assert "The workspace this month: $4.60 of $10.00" in text and "46% · $5.40 left" in text
    assert "You today: $1.40 of $5.00" in text
    assert "The workspace's spending" not in text and f"<#{CHANNEL}> this month" not in text

    await bot.event(home_opened(ADMIN, "EvH2"))
    admin = " ".join(all_texts(bot.slack.homes[ADMIN][-1]["blocks"]))
    assert "*The workspace's spending*: $4.60 in 30 days" in admin
    assert f"<#{CHANNEL}> this month: $4.20 of $5.00" in admin and "84% · $0.80 left" in admin


def test_app_home_with_both_charts_and_many_budgets_stays_within_a_views_limits() -> None:
    days = [(date(2027, 1, 15) - timedelta(days=29 - n), 10**12 // (n + 1)) for n in range(30)]
    budgets = [messages.BudgetUse(f"<#C{n:010d}> this month", 10**12, 10**11) for n in range(20)]
    spending = messages.HomeSpending(days, days, budgets)
    jobs = [stored_job(prompt="<!channel> " + "a heron " * 200) for _ in range(150)]
    channels = [messages.ChannelUsage(f"CH{n:05d}", n, n * 10_000, 30) for n in range(200)]
    view = messages.home_view(jobs, 1, 2, channels, "https://acme.slack.com/", "January", spending)
    assert view_problem(view) is None and len(view["blocks"]) == 100
    texts = all_texts(view["blocks"])
    assert all(len(text) <= messages.MAX_TEXT for text in texts)
    assert len(chart_lines(view, "Your spending")) == 30 and len(chart_lines(view, "The workspace's spending")) == 30
    [budget_section] = [text for text in texts if text.startswith("*January so far")]
    assert budget_section.count("this month:") == 20
