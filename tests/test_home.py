"""App Home: your last jobs and spending, every channel's usage for admins, refreshed as jobs move."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import CHANNEL, USER, MakeBot, event_callback

ADMIN = "UADMIN01"


def home_opened(user: str, event_id: str = "EvH1") -> str:
    return event_callback({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}, event_id)


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


async def test_opening_the_tab_shows_your_jobs_spending_and_links(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse in a storm")
    await bot.run_jobs()
    assert (await bot.event(home_opened(USER))).status == 200
    [view] = bot.slack.homes[USER]
    text = text_of(view)
    assert view["type"] == "home"
    assert "You spent *$0.40* today" in text and "*Your last job*" in text
    [root] = bot.slack.roots(CHANNEL)
    assert f"https://acme.slack.com/archives/{CHANNEL}/p{root.ts.replace('.', '')}|thread" in text
    assert "✅ Done" in text and "Channels today" not in text


async def test_the_tab_is_refreshed_as_a_job_moves_for_people_who_opened_it(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.event(home_opened(USER))
    published = len(bot.slack.homes[USER])
    await bot.command("A lighthouse")
    await bot.command("A glacier", user="UBOB0002")  # Bob never opened the tab
    await bot.run_jobs()
    assert len(bot.slack.homes[USER]) > published + 2  # submitted, processing, complete, delivered…
    assert "✅ Done" in text_of(bot.slack.homes[USER][-1])
    assert "UBOB0002" not in bot.slack.homes


async def test_admins_see_every_channels_usage_against_its_quota(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=20)
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.command("A lighthouse")
    await bot.command("A glacier", channel="C0THER01")
    await bot.run_jobs()
    await bot.event(home_opened(ADMIN))
    text = text_of(bot.slack.homes[ADMIN][-1])
    assert "Channels today" in text
    assert f"<#{CHANNEL}> · 1 of 20 jobs · $0.40" in text and "<#C0THER01> · 1 of 20 jobs" in text
    assert "*No jobs yet*" in text
