"""A job has one progress message, also when a step holding an older copy of the job asks for it."""

from __future__ import annotations

import dataclasses

from bot import messages
from bot.jobs.progress_posts import ProgressPosts
from tests.conftest import CHANNEL, MakeBot


async def test_a_step_holding_the_job_from_before_its_progress_message_posts_no_second_one(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    [root] = bot.slack.roots(CHANNEL)
    assert job.progress_ts is not None and len(bot.slack.thread(CHANNEL, root.ts)) == 1

    posts = ProgressPosts(bot.services.store, bot.services.slack, bot.clock, messages.progress_message)
    # Read before the message was posted and recorded (a poll that started meanwhile, say).
    stale = dataclasses.replace(job, progress_ts=None)
    posts.want(stale)
    await posts.wait_idle()
    assert await posts.now(dataclasses.replace(job, progress_ts=None)) == (job.progress_ts, False)
    assert len(bot.slack.thread(CHANNEL, root.ts)) == 1
