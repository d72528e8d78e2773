"""The showcase and sharing a private take (issue 28): a ⭐ or *Add to showcase* posts a delivered take once to
VIDEOBOT_SHOWCASE_CHANNEL, and a private take's *Share* posts it once in the channel it was asked from."""

from __future__ import annotations

import asyncio

import pytest

from bot import messages
from bot.domain import presets
from bot.domain.job import JobState
from bot.domain.request import MAX_PROMPT_CHARS
from bot.features.takes import TAKE_LEASE_SECONDS
from bot.runtime.config import ConfigError, load_settings
from storage.takes import SHARE, SHOWCASE
from tests.conftest import CHANNEL, USER, Bot, MakeBot, button_click_body, private_text, reaction_event_body
from tests.fakes.blockkit import message_problem, view_problem
from tests.fakes.jobs import stored_job
from tests.fakes.process import wait_for
from tests.fakes.slack import FakeMessage

BOB = "UBOB0002"
CAROL = "UCAROL03"
SHOWCASE_CHANNEL = "C0STARS01"
DM = f"D{USER}"  # the fake's direct message with the requester


async def delivered(
    bot: Bot, text: str = "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16"
) -> FakeMessage:
    await bot.command(text)
    await bot.run_jobs()
    job = (await bot.services.store.jobs())[-1]
    assert job.state is JobState.DELIVERED
    [root] = [m for m in bot.slack.roots(job.where) if m.ts == job.root_ts]
    return root


async def event(bot: Bot, body: str, *, retry_num: int | None = None) -> None:
    """Slack delivers an event; the posts it started are done."""
    assert (await bot.event(body, retry_num=retry_num)).status == 200
    await bot.services.takes.wait_idle()


async def interact(bot: Bot, body: str) -> None:
    """A click; the posts it started, and what its clicker is told, are done."""
    assert (await bot.interaction(body)).status == 200
    await bot.services.takes.wait_idle()


def showcased(bot: Bot) -> list[FakeMessage]:
    return bot.slack.roots(SHOWCASE_CHANNEL)


def buttons(message: FakeMessage) -> list[str]:
    found: list[str] = []
    for block in message.blocks:
        found += [str(e.get("action_id")) for e in block.get("elements", []) if e.get("type") == "button"]
    return found


def responses(bot: Bot, name: str) -> list[str]:
    """What the person was told privately through the response_url named `name`."""
    return [str(body.get("text", "")) for url, body in bot.slack.responses if url == name]


def click(root: FakeMessage, action_id: str, *, user: str, channel: str = CHANNEL, n: int = 1, url: str = "") -> str:
    return button_click_body(
        root.ts, "", user=user, channel=channel, action_id=action_id, action_ts=f"1700001000.{n}", response_url=url
    )


async def test_a_star_posts_the_take_once_to_the_showcase_with_who_asked_and_who_starred(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    assert messages.SHOWCASE_ACTION_ID in buttons(root) and "with ⭐ to add it to the showcase" in root.all_text()

    await event(bot, reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev1"))
    [post] = showcased(bot)
    text = post.all_text()
    job = (await bot.services.store.jobs())[0]
    assert f"by <@{USER}>" in text and "“A lighthouse in a storm”" in text
    assert f"veo-3 · 8 s · 1080p · 9:16 · est. $2.80 · job {job.id}" in text
    assert f"Starred by <@{BOB}> in <#{CHANNEL}>" in text
    assert f"<{job.video_url}|▶ the video>" in text
    thread = f"https://acme.slack.com/archives/{CHANNEL}/p{root.ts.replace('.', '')}"
    assert f"<{thread}|its thread>" in text
    take = await bot.services.store.take_post("T0001", SHOWCASE, job.id)
    assert take is not None and take.message_ts == post.ts and take.by_user == BOB and take.video_done
    # The video itself is under the post, for those who can't open the original thread.
    [video] = bot.slack.files_in_thread(SHOWCASE_CHANNEL, post.ts)
    [original] = bot.slack.files_in_thread(CHANNEL, root.ts)
    assert video.sha256 == original.sha256 and video.file_id != original.file_id


async def test_once_per_video_across_redeliveries_more_stars_removals_clicks_and_a_restart(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    star = reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev1")
    await event(bot, star)
    await event(bot, star, retry_num=1)
    await event(bot, star, retry_num=2)
    # Bob removes his star and adds it again; Carol stars it too, with a skin-toned name for good measure.
    await event(bot, reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev2"))
    await event(bot, reaction_event_body(root.ts, reaction=":star:", user=CAROL, event_id="Ev3"))
    url = bot.slack.response_url("r-showcase")
    await interact(bot, click(root, messages.SHOWCASE_ACTION_ID, user=CAROL, url=url))
    restarted = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    await event(restarted, reaction_event_body(root.ts, reaction="star", user=CAROL, event_id="Ev4"))
    await interact(restarted, click(root, messages.SHOWCASE_ACTION_ID, user=USER, n=2, url=url))

    [post] = showcased(bot)
    assert f"Starred by <@{BOB}>" in post.all_text()
    assert len(bot.slack.files_in_thread(SHOWCASE_CHANNEL, post.ts)) == 1
    said = responses(bot, "r-showcase")
    assert len(said) == 2 and all("already in the showcase in <#C0STARS01>" in text for text in said)
    assert f"/archives/{SHOWCASE_CHANNEL}/p{post.ts.replace('.', '')}|see it>" in said[0]


async def test_the_button_answers_privately_and_stars_on_other_things_do_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    await event(bot, reaction_event_body(root.ts, reaction="heart", user=BOB, event_id="Ev1"))
    await event(bot, reaction_event_body("1700009999.000001", reaction="star", user=BOB, event_id="Ev2"))
    assert showcased(bot) == []

    url = bot.slack.response_url("r1")
    await interact(bot, click(root, messages.SHOWCASE_ACTION_ID, user=BOB, url=url))
    [post] = showcased(bot)
    assert f"Starred by <@{BOB}>" in post.all_text()
    assert responses(bot, "r1") == ["⭐ Added to the showcase in <#C0STARS01>."]


async def test_an_unfinished_take_is_not_showcased(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    await bot.command("A lighthouse")
    await bot.step()
    job = (await bot.services.store.jobs())[0]
    assert job.state is not JobState.DELIVERED and job.root_ts is not None
    [root] = bot.slack.roots(CHANNEL)
    assert messages.SHOWCASE_ACTION_ID not in buttons(root)
    await event(bot, reaction_event_body(job.root_ts, reaction="star", user=BOB, event_id="Ev1"))
    assert showcased(bot) == []


async def test_without_the_setting_no_button_and_a_star_does_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await delivered(bot)
    assert messages.SHOWCASE_ACTION_ID not in buttons(root) and "showcase" not in root.all_text()
    await event(bot, reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev1"))
    assert [m for m in bot.slack.messages if "showcase" in m.all_text().lower()] == []
    assert await bot.services.store.latest_takes("T0001", SHOWCASE, 5) == []


async def test_a_private_take_is_showcased_by_its_requester_alone(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot, "A secret garden --private")
    assert root.channel == DM
    # Nobody else can see the DM, but a forged or mistaken event or click must do nothing either.
    await event(bot, reaction_event_body(root.ts, reaction="star", user=BOB, channel=DM, event_id="Ev1"))
    url = bot.slack.response_url("r-bob")
    await interact(bot, click(root, messages.SHOWCASE_ACTION_ID, user=BOB, channel=DM, url=url))
    assert showcased(bot) == []
    assert responses(bot, "r-bob") == [
        "Only the person who asked for a private video can share it or add it to the showcase."
    ]

    await event(bot, reaction_event_body(root.ts, reaction="star", user=USER, channel=DM, event_id="Ev2"))
    [post] = showcased(bot)
    assert f"Starred by <@{USER}>" in post.all_text() and "its thread" not in post.all_text()


async def test_a_claim_left_by_a_crash_before_the_post_is_posted_once_after_its_lease(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    job = (await bot.services.store.jobs())[0]
    # The process that claimed it died before posting: the claim is there, the post is not.
    claim = await bot.services.store.claim_take_post(
        "T0001", SHOWCASE, job.id, SHOWCASE_CHANNEL, BOB, bot.clock.now(), TAKE_LEASE_SECONDS
    )
    assert claim is not None
    restarted = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    # Within the lease, the claim may still be its holder's: a star now posts nothing, nor does resume.
    await event(restarted, reaction_event_body(root.ts, reaction="star", user=CAROL, event_id="Ev1"))
    assert await restarted.services.takes.resume() == 0
    assert showcased(bot) == []

    bot.clock.advance(TAKE_LEASE_SECONDS + 1)
    assert await restarted.services.takes.resume() == 1
    assert await restarted.services.takes.resume() == 0
    await event(restarted, reaction_event_body(root.ts, reaction="star", user=CAROL, event_id="Ev2"))
    [post] = showcased(bot)
    assert f"Starred by <@{BOB}>" in post.all_text()


async def test_a_crash_between_the_post_and_its_video_uploads_the_video_alone_after_the_lease(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    job = (await bot.services.store.jobs())[0]
    # The post went out and was recorded; the process died before the video was uploaded under it.
    bot.slack.gates["upload"] = gate = asyncio.Event()
    await bot.event(reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev1"))
    await wait_for(lambda: bot.slack.held.get("upload", 0) == 1)
    [post] = showcased(bot)
    for task in list(bot.services.takes._pending):
        task.cancel()
    await bot.services.takes.wait_idle()
    gate.set()
    del bot.slack.gates["upload"]
    take = await bot.services.store.take_post("T0001", SHOWCASE, job.id)
    assert take is not None and take.message_ts == post.ts and not take.video_done
    assert bot.slack.files_in_thread(SHOWCASE_CHANNEL, post.ts) == []

    restarted = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    assert await restarted.services.takes.resume() == 0  # within the lease: it may still be uploading
    bot.clock.advance(TAKE_LEASE_SECONDS + 1)
    assert await restarted.services.takes.resume() == 1
    assert await restarted.services.takes.resume() == 0
    assert showcased(bot) == [post]  # no second post
    assert len(bot.slack.files_in_thread(SHOWCASE_CHANNEL, post.ts)) == 1


async def test_a_post_slack_refused_is_retried_once_the_lease_lapses(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    root = await delivered(bot)
    bot.slack.fail_next("chat.postMessage", error="not_in_channel")
    await event(bot, reaction_event_body(root.ts, reaction="star", user=BOB, event_id="Ev1"))
    assert showcased(bot) == []
    bot.clock.advance(TAKE_LEASE_SECONDS + 1)
    await event(bot, reaction_event_body(root.ts, reaction="star", user=CAROL, event_id="Ev2"))
    assert await bot.services.takes.resume() == 0
    [post] = showcased(bot)
    assert f"Starred by <@{BOB}>" in post.all_text()


async def test_app_home_shows_the_latest_showcased_takes(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel=SHOWCASE_CHANNEL)
    first = await delivered(bot, "A lighthouse")
    second = await delivered(bot, "A paper boat")
    await event(bot, reaction_event_body(first.ts, reaction="star", user=BOB, event_id="Ev1"))
    bot.clock.advance(60)
    await event(bot, reaction_event_body(second.ts, reaction="star", user=CAROL, event_id="Ev2"))
    await bot.services.home.publish("T0001", BOB)
    view = bot.slack.homes[BOB][-1]
    text = " ".join(str(block) for block in view["blocks"])
    assert "Latest in the showcase" in text
    assert text.index("A paper boat") < text.index("A lighthouse")  # newest first
    assert f"starred by <@{CAROL}>" in text and f"starred by <@{BOB}>" in text


async def test_app_home_without_a_showcase_does_not_mention_it(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await delivered(bot)
    await bot.services.home.publish("T0001", BOB)
    assert "showcase" not in str(bot.slack.homes[BOB][-1]).lower()


async def test_help_tells_of_the_showcase_when_there_is_one_and_of_sharing(make_bot: MakeBot) -> None:
    with_showcase = private_text(await (await make_bot(showcase_channel=SHOWCASE_CHANNEL)).command("help"))
    assert "react with ⭐" in with_showcase and "*Add to showcase*" in with_showcase
    without = private_text(await (await make_bot()).command("help"))
    assert "showcase" not in without.lower()
    for text in (with_showcase, without):
        assert "*Share in the channel*" in text


# --- sharing a private take -----------------------------------------------------------------------


async def test_a_private_take_is_shared_in_its_channel_once_by_its_requester(make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await delivered(bot, "A secret garden --private")
    assert messages.SHARE_ACTION_ID in buttons(root)
    assert f"*Share* posts it in <#{CHANNEL}> with your name" in root.all_text()
    before = len(bot.slack.roots(CHANNEL))

    url = bot.slack.response_url("r-share")
    await interact(bot, click(root, messages.SHARE_ACTION_ID, user=USER, channel=DM, url=url))
    await interact(bot, click(root, messages.SHARE_ACTION_ID, user=USER, channel=DM, n=1, url=url))  # redelivered
    restarted = await make_bot()
    await interact(restarted, click(root, messages.SHARE_ACTION_ID, user=USER, channel=DM, n=2, url=url))

    shared = bot.slack.roots(CHANNEL)[before:]
    assert len(shared) == 1
    # The video itself, under the post: nobody else can open the direct message it was made in.
    assert len(bot.slack.files_in_thread(CHANNEL, shared[0].ts)) == 1
    text = shared[0].all_text()
    job = (await bot.services.store.jobs())[0]
    assert f"Shared by <@{USER}>" in text and "“A secret garden”" in text and f"<{job.video_url}|▶ the video>" in text
    said = responses(bot, "r-share")
    assert said[0] == f"✅ Shared in <#{CHANNEL}>."
    assert len(said) == 3 and all(f"This take is already shared in <#{CHANNEL}>" in t for t in said[1:])


async def test_only_the_requester_can_share_and_public_takes_offer_no_share(make_bot: MakeBot) -> None:
    bot = await make_bot()
    public = await delivered(bot, "A lighthouse")
    assert messages.SHARE_ACTION_ID not in buttons(public)
    root = await delivered(bot, "A secret garden --private")
    url = bot.slack.response_url("r-bob")
    await interact(bot, click(root, messages.SHARE_ACTION_ID, user=BOB, channel=DM, url=url))
    assert responses(bot, "r-bob") == [
        "Only the person who asked for a private video can share it or add it to the showcase."
    ]
    assert [m for m in bot.slack.roots(CHANNEL) if "Shared by" in m.all_text()] == []
    job = (await bot.services.store.jobs())[-1]
    assert await bot.services.store.take_post("T0001", SHARE, job.id) is None


# --- at Block Kit's limits, and inert -------------------------------------------------------------


def test_the_longest_prompt_and_style_fit_every_new_payload_and_ping_nobody() -> None:
    pings = ("<!channel> <!here> <@U0BOSS> & " * 80)[:MAX_PROMPT_CHARS]
    take = stored_job(
        state=JobState.DELIVERED,
        prompt=pings,
        style="<!here> " * 60,
        root_ts="1700000000.000100",
        video_url="https://storage.withperf.pro/v/<!channel>.mp4",
        private=True,
        post_channel_id=DM,
    )
    showcase = messages.showcase_post(take, BOB, "https://acme.slack.com/archives/C0DESIGN/p1700000000000100")
    many = [
        presets.Preset(f"preset-{n:02d}" + "x" * 20, presets.PERSON, {"style": "<!channel> " * 50, "model": "pika"})
        for n in range(40)
    ] + [presets.Preset(f"preset-{n:02d}" + "x" * 20, presets.CHANNEL, {"model": "veo-3"}) for n in range(40)]
    listing = messages.preset_list(many, presets.shadowed(many))
    root = messages.root_message(take, showcase=True)
    for payload in (showcase, messages.shared_post(take), listing, root):
        assert message_problem(payload) is None, payload
        assert "<!channel>" not in str(payload) and "<!here>" not in str(payload) and "<@U0BOSS>" not in str(payload)
    assert "…and" in listing["text"] and len(listing["text"]) <= messages.MAX_TEXT
    values = messages.FormValues(prompt=pings)
    form = messages.video_form(CHANNEL, values, place=messages.FormPlace(CHANNEL, presets=tuple(p.name for p in many)))
    assert view_problem(form) is None
    assert len(form["private_metadata"]) <= 3_000


def test_the_showcase_channel_is_one_channel_id_or_none() -> None:
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PERF_API_KEY": "pk_test_1"}
    assert load_settings(base, dotenv_path=None).showcase_channel == ""
    chosen = load_settings({**base, "VIDEOBOT_SHOWCASE_CHANNEL": " C0STARS01 "}, dotenv_path=None)
    assert chosen.showcase_channel == SHOWCASE_CHANNEL
    with pytest.raises(ConfigError, match="VIDEOBOT_SHOWCASE_CHANNEL"):
        load_settings({**base, "VIDEOBOT_SHOWCASE_CHANNEL": "#showcase"}, dotenv_path=None)
    with pytest.raises(ConfigError, match="one channel ID"):
        load_settings({**base, "VIDEOBOT_SHOWCASE_CHANNEL": "C0STARS01,C0STARS02"}, dotenv_path=None)
