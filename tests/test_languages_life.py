"""A job's whole life in German, and in every shipped language (issue 26): a person whose Slack is in German, in
a channel whose admins set it to German, reads the refusal, the answers, the thread, the upload and App Home in
German; and how a person's language is learnt: once a day from Slack, never in front of an ack, again when Slack
says it changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot import messages
from bot.features.people import LOCALE_SECONDS
from tests.conftest import CHANNEL, USER, MakeBot, event_callback

ADMIN = "UADMIN01"


@pytest.fixture(autouse=True)
def workspace_in_english() -> Iterator[None]:
    """VIDEOBOT_LANGUAGE is read into the messages package when a bot opens: put it back for other tests."""
    yield
    messages.configure("en")


def home_opened(user: str, event_id: str = "EvH1") -> str:
    return event_callback({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}, event_id)


def user_changed(user: str, event_id: str = "EvU1", **fields: Any) -> str:
    return event_callback({"type": "user_change", "user": {"id": user, "team_id": "T0001", **fields}}, event_id)


def answer(response: Any) -> str:
    return str(json.loads(response.body or "{}").get("text", "")) if response.body else ""


def users_info_calls(bot: Any, user: str) -> int:
    return sum(1 for method, params in bot.slack.calls if method == "users.info" and params.get("user") == user)


async def learnt(bot: Any) -> None:
    """The lookups the last requests started in the background have answered."""
    await bot.services.people.wait_idle()


async def test_a_jobs_whole_life_in_german(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.slack.add_user(USER, locale="de-DE", real_name="Anna")
    bot.slack.add_user(ADMIN, locale="de-DE", is_admin=True)

    # Not known yet: answered in the workspace's language at once (no ack waits for Slack), and learnt meanwhile.
    first = answer(await bot.command("help"))
    assert first.startswith("*Make a video:*")
    await learnt(bot)
    assert users_info_calls(bot, USER) == 1
    assert answer(await bot.command("help")).startswith("*Video erstellen:*")

    # The channel's language, set by an admin like any other default, and shown with them.
    # (The admin is new too: answered in the workspace's language this once.)
    set_by_admin = answer(await bot.command("defaults --language de", user=ADMIN))
    assert "• language: Deutsch (German) (this channel's default)" in set_by_admin
    await learnt(bot)
    shown = answer(await bot.command("defaults", user=ADMIN))
    assert "• Sprache: Deutsch (Standard dieses Channels)" in shown

    # A refusal, in the person's words and numbers; the model's name and the options as typed.
    refused = answer(await bot.command("Ein Leuchtturm --model veo-3 --duration 61"))
    assert refused == "veo-3 macht Videos von bis zu 60 s, und du wolltest 61. Versuch `--duration 60`."

    await bot.command("Ein Leuchtturm im Sturm --duration 4")
    await bot.run_jobs(each_state_shown=True)  # every state of the job shown, each in German
    [root] = bot.slack.roots(CHANNEL)
    assert "🎬 Video für <@UALICE01>" in root.all_text() and "✅ Fertig in" in root.all_text()
    assert "🔁 Nochmal" in root.all_text() and "0,40\xa0$" in root.all_text()
    thread = [m for m in bot.slack.messages if m.thread_ts == root.ts]
    [progress] = thread
    assert progress.history[0].startswith("⏳ Bei Perf in der Warteschlange")
    english = ("Queued", "left", "uploading", "Done", "Generating")
    assert not [shown for shown in progress.history if any(word in shown for word in english)]
    assert progress.text.startswith("✅ Fertig in")
    [upload] = [f for f in bot.slack.files.values() if f.shares]
    assert upload.title.startswith("4 s · 1080p · 0,40\xa0$ · erstellt in")

    # However many requests they made, their language was asked once.
    assert users_info_calls(bot, USER) == 1

    # App Home is private: the person's language.
    await bot.event(home_opened(USER))
    await bot.services.home.wait_idle()
    home = json.dumps(bot.slack.homes[USER][-1], ensure_ascii=False)
    assert "Du hast heute *0,40\xa0$* ausgegeben" in home and "🎬 Neues Video" in home


# Slack's own code for a person whose Slack is in each shipped language (es-LA is Latin American Spanish).
SLACK_CODE = {"de": "de-DE", "fr": "fr-FR", "es": "es-ES", "es-419": "es-LA", "pt-BR": "pt-BR", "ja": "ja-JP"}
# Words of each English surface below: none of them is left where the person's language is spoken (the message
# shortcut *Make a video of this* keeps the name the manifest gives it, in every language).
ENGLISH = ("*Make a video:*", "makes videos of up to", "Video for", "Done in", "Queued", "Generating", "made in")


@pytest.mark.parametrize("language", [tag for tag in messages.shipped() if tag not in ("en", "qps")])
async def test_a_jobs_whole_life_in_each_shipped_language(make_bot: MakeBot, language: str) -> None:
    """The German life above, for every language shipped: help, a refusal, the channel's job from root to
    upload, and App Home, none of it in English, each in the person's or the channel's language."""
    assert set(SLACK_CODE) >= set(messages.shipped()) - {"en", "qps"}, "a shipped language without its Slack code"
    bot = await make_bot(daily_jobs_per_channel=0)
    bot.slack.add_user(USER, locale=SLACK_CODE[language], real_name="Anna")
    bot.slack.add_user(ADMIN, locale=SLACK_CODE[language], is_admin=True)
    english_help = answer(await bot.command("help"))
    await bot.command("defaults --language " + language, user=ADMIN)
    await learnt(bot)

    own_help = answer(await bot.command("help"))
    assert own_help and own_help != english_help and "*Make a video:*" not in own_help
    with messages.speaking(language):
        assert own_help.startswith(str(messages.help_message()["text"]).split("\n", 1)[0])
    refused = answer(await bot.command("A lighthouse --model veo-3 --duration 61"))
    assert "veo-3" in refused and "`--duration 60`" in refused and "makes videos" not in refused

    await bot.command("A lighthouse in a storm --duration 4")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    [progress] = [m for m in bot.slack.messages if m.thread_ts == root.ts]
    [upload] = [f for f in bot.slack.files.values() if f.shares]
    await bot.event(home_opened(USER))
    await bot.services.home.wait_idle()
    home = json.dumps(bot.slack.homes[USER][-1], ensure_ascii=False)
    shown = [root.all_text(), *progress.history, progress.text, upload.title, home]
    assert not [(word, text) for text in shown for word in ENGLISH if word in text]
    assert "A lighthouse in a storm" in root.all_text()  # the prompt is never translated


async def test_a_job_keeps_its_language_when_the_channel_changes_its_own(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, locale="en-US", is_admin=True)
    await bot.command("defaults --language de", user=ADMIN)
    await bot.command("Ein Leuchtturm")
    await bot.command("defaults clear", user=ADMIN)
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "🎬 Video für" in root.all_text() and "✅ Fertig" in root.all_text()
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert any("🎬 Video for" in m.all_text() for m in bot.slack.roots(CHANNEL))


async def test_a_language_videobot_does_not_speak_is_refused_with_the_ones_it_does(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    refused = answer(await bot.command("defaults --language xx", user=ADMIN))
    assert refused.startswith("videobot doesn't speak `xx`") and "`de` Deutsch (German)" in refused
    mine = answer(await bot.command("defaults me --language de"))
    assert "the language your Slack is set to" in mine


async def test_the_workspaces_language_is_for_whoever_has_none_of_their_own(make_bot: MakeBot) -> None:
    bot = await make_bot(language="de")
    bot.slack.add_user(USER, locale="ko-KR")  # a language videobot has no catalogue for
    assert answer(await bot.command("help")).startswith("*Video erstellen:*")
    await learnt(bot)
    assert answer(await bot.command("help")).startswith("*Video erstellen:*")


async def test_a_persons_language_is_asked_once_a_day_and_when_slack_says_it_changed(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(USER, locale="es-LA")
    for _ in range(5):
        await bot.command("help")
        await learnt(bot)
    assert users_info_calls(bot, USER) == 1
    # Slack's es-LA is Latin American Spanish; with no catalogue for it, the workspace's language.
    assert await bot.services.people.language("T0001", USER) == "es-419"

    bot.slack.add_user(USER, locale="de-DE")
    await bot.event(user_changed(USER, locale="de-DE"))
    await learnt(bot)
    assert answer(await bot.command("help")).startswith("*Video erstellen:*")
    assert users_info_calls(bot, USER) == 1  # the event said which language: nothing to ask

    bot.clock.advance(LOCALE_SECONDS + 1)
    await bot.command("help")
    await learnt(bot)
    assert users_info_calls(bot, USER) == 2


async def test_a_restarted_bot_remembers_languages_without_asking_slack(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(USER, locale="de-DE")
    await bot.command("help")
    await learnt(bot)
    bot = await make_bot()
    assert answer(await bot.command("help")).startswith("*Video erstellen:*")
    assert users_info_calls(bot, USER) == 1
