"""The workspace's Perf key in App Home (issue 25): an admin, an owner or whoever installed videobot sets it
in a form; Perf checks it before it is saved; the tab shows it set, ending in its last four characters, who
set it and when, and never the key. On both engines."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from bot import messages
from storage.installations import SlackInstallationStore
from storage.secrets import KeyRing, generate_key
from tests.conftest import USER, Bot, MakeBot
from tests.test_home import ADMIN, home_opened, text_of
from tests.test_installations import installation

ENCRYPTION_KEY = generate_key()
GOOD_KEY = "pk_live_acme_own_key_00004f2a"


def key_button_click(user: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "team_id": "T0001"},
        "api_app_id": "A0001",
        "trigger_id": "1.2.5",
        "container": {"type": "view", "view_id": "VHOME"},
        "actions": [{"type": "button", "action_id": messages.PERF_KEY_ACTION_ID, "block_id": "perf_key_actions"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def key_submission(user: str, typed: str) -> str:
    form = messages.perf_key_form()
    view = {
        **form,
        "id": "VKEY0001",
        "hash": "VKEY0001-1",
        "state": {
            "values": {
                messages.PERF_KEY_BLOCK_ID: {messages.PERF_KEY_INPUT_ID: {"type": "plain_text_input", "value": typed}}
            }
        },
    }
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user}, "view": view}
    return urlencode({"payload": json.dumps(payload)})


def errors_of(body: Any) -> dict[str, str]:
    answer = json.loads(body) if body else {}
    assert answer.get("response_action", "errors") == "errors"
    return dict(answer.get("errors") or {})


async def key_bot(make_bot: MakeBot, **overrides: Any) -> Bot:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY, **overrides)
    bot.slack.add_user(ADMIN, is_admin=True)
    bot.perf.add_key(GOOD_KEY)
    return bot


async def test_an_admin_sets_the_key_perf_checks_it_and_the_tab_never_shows_it(make_bot: MakeBot) -> None:
    bot = await key_bot(make_bot, perf_api_key="")
    await bot.event(home_opened(ADMIN))
    text = text_of(bot.slack.homes[ADMIN][-1])
    assert "Perf key*: not set. Nobody can make a video here until an admin adds one" in text
    assert messages.PERF_KEY_ACTION_ID in text

    assert (await bot.interaction(key_button_click(ADMIN))).status == 200
    opened = bot.slack.views[max(bot.slack.views)]
    assert opened["callback_id"] == messages.PERF_KEY_CALLBACK_ID

    # A key Perf refuses is answered on the field and not saved.
    response = await bot.interaction(key_submission(ADMIN, "pk_live_unknown_to_perf_0000"))
    assert errors_of(response.body) == {messages.PERF_KEY_BLOCK_ID: messages.KEY_REFUSED}
    assert "not set" in text_of(bot.slack.homes[ADMIN][-1])
    # Not a key at all: on the field too, and Perf is not asked.
    before = bot.perf.unauthorized
    response = await bot.interaction(key_submission(ADMIN, "my key"))
    assert errors_of(response.body) == {messages.PERF_KEY_BLOCK_ID: messages.KEY_MALFORMED}
    assert bot.perf.unauthorized == before

    response = await bot.interaction(key_submission(ADMIN, f"  {GOOD_KEY}\n"))
    assert response.status == 200 and not response.body  # the form closes
    text = text_of(bot.slack.homes[ADMIN][-1])
    assert "set, ends in `…4f2a`" in text and f"by <@{ADMIN}>" in text and "<!date^" in text
    assert GOOD_KEY not in text and "pk_live_acme" not in text

    # The workspace's jobs are now paid with it.
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert bot.perf.creates_by_key == {GOOD_KEY: 1}


async def test_someone_who_is_not_an_admin_sees_no_form_and_cannot_set_the_key(make_bot: MakeBot) -> None:
    bot = await key_bot(make_bot)
    await bot.event(home_opened(USER))
    text = text_of(bot.slack.homes[USER][-1])
    assert "Whoever runs videobot pays for this workspace's videos" in text
    assert messages.PERF_KEY_ACTION_ID not in text
    views_before = len(bot.slack.views)
    await bot.interaction(key_button_click(USER))
    assert len(bot.slack.views) == views_before
    # A submission forged without the button is refused too.
    response = await bot.interaction(key_submission(USER, GOOD_KEY))
    assert errors_of(response.body) == {messages.PERF_KEY_BLOCK_ID: messages.KEY_NOT_ALLOWED}
    store = bot.services.jobs.keys.workspaces
    assert store is not None and await store.perf_key("T0001") is None


async def test_whoever_installed_videobot_may_set_the_key(make_bot: MakeBot) -> None:
    bot = await key_bot(make_bot)
    await SlackInstallationStore(bot.services.store, KeyRing.parse(ENCRYPTION_KEY)).async_save(
        installation("T0001", user_id=USER)
    )
    await bot.event(home_opened(USER))
    assert messages.PERF_KEY_ACTION_ID in text_of(bot.slack.homes[USER][-1])
    response = await bot.interaction(key_submission(USER, GOOD_KEY))
    assert response.status == 200 and not response.body
    assert "set, ends in `…4f2a`" in text_of(bot.slack.homes[USER][-1])


async def test_without_the_encryption_key_the_tab_has_no_key_section(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.add_user(ADMIN, is_admin=True)
    await bot.event(home_opened(ADMIN))
    assert "Perf key" not in text_of(bot.slack.homes[ADMIN][-1])
