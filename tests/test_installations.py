"""Installations and OAuth states in our own database (storage/installations.py), on both engines: what Bolt's
install flow saves is found again, the latest installation wins, deletes remove every token, no token is
stored in clear, and a state is good once, until it expires, on any replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from storage.db import Store
from storage.installations import STATE_EXPIRATION_SECONDS, SlackInstallationStore, SlackOAuthStateStore
from storage.secrets import KeyRing, SealedValueError, generate_key
from tests.conftest import FakeClock

KEYS = KeyRing.parse(generate_key())


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


@pytest.fixture
def installations(store: Store) -> SlackInstallationStore:
    return SlackInstallationStore(store, KEYS)


def installation(
    team_id: str | None = "T0001",
    *,
    enterprise_id: str | None = None,
    user_id: str = "U0001",
    installed_at: float = 1_800_000_000.0,
    tag: str = "a",
    org_wide: bool = False,
) -> Installation:
    workspace = team_id or enterprise_id
    return Installation(
        app_id="A0001",
        enterprise_id=enterprise_id,
        enterprise_name="Initech" if enterprise_id else None,
        team_id=team_id,
        team_name=f"Team {team_id}" if team_id else None,
        bot_token=f"xoxb-{workspace}-{tag}-bot",
        bot_id="B0001",
        bot_user_id="UBOT0001",
        bot_scopes="commands,chat:write,files:write",
        bot_refresh_token=f"xoxe-1-{workspace}-{tag}-refresh",
        bot_token_expires_at=1_800_043_200,
        user_id=user_id,
        user_token=f"xoxp-{workspace}-{user_id}-{tag}-user",
        user_scopes="identify",
        incoming_webhook_url=f"https://hooks.slack.com/services/{workspace}/B0001/{tag}secretpath",
        incoming_webhook_channel="#general",
        is_enterprise_install=org_wide,
        token_type="bot",
        installed_at=installed_at,
    )


async def test_a_workspace_install_is_found_again_with_its_tokens(installations: SlackInstallationStore) -> None:
    saved = installation()
    await installations.async_save(saved)
    await installations.async_save(installation("T0002", tag="other"))

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    assert bot is not None
    assert (bot.bot_token, bot.bot_refresh_token, bot.bot_token_expires_at) == (
        saved.bot_token,
        saved.bot_refresh_token,
        1_800_043_200,
    )
    assert (bot.team_id, bot.bot_user_id, bot.bot_scopes) == (
        "T0001",
        "UBOT0001",
        ["commands", "chat:write", "files:write"],
    )
    assert bot.enterprise_id is None and not bot.is_enterprise_install

    found = await installations.async_find_installation(enterprise_id=None, team_id="T0001")
    assert found is not None
    assert found.to_dict() == saved.to_dict()  # every field, secrets and all, as it was saved

    assert await installations.async_find_bot(enterprise_id=None, team_id="T0404") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0404") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0001", user_id="U0404") is None


async def test_an_org_wide_install_serves_every_workspace_of_its_org(installations: SlackInstallationStore) -> None:
    await installations.async_save(installation(None, enterprise_id="E0001", org_wide=True))
    # A request from one of the org's workspaces names its team, and says the install is org-wide.
    for team_id in ("T0101", "T0102", None):
        bot = await installations.async_find_bot(enterprise_id="E0001", team_id=team_id, is_enterprise_install=True)
        assert bot is not None and bot.bot_token == "xoxb-E0001-a-bot" and bot.is_enterprise_install
        found = await installations.async_find_installation(
            enterprise_id="E0001", team_id=team_id, is_enterprise_install=True
        )
        assert found is not None and found.team_id is None and found.user_token == "xoxp-E0001-U0001-a-user"
    # Not a workspace-level install of that team, and not another org's.
    assert await installations.async_find_bot(enterprise_id="E0001", team_id="T0101") is None
    assert await installations.async_find_bot(enterprise_id="E0002", team_id=None, is_enterprise_install=True) is None

    # An org-wide install that names a team (the workspace it was begun from) is still the org's.
    await installations.async_save(
        installation("T0109", enterprise_id="E0003", org_wide=True, installed_at=1_800_000_001.0)
    )
    org_begun_in_a_team = await installations.async_find_bot(
        enterprise_id="E0003", team_id="T0110", is_enterprise_install=True
    )
    assert org_begun_in_a_team is not None and org_begun_in_a_team.bot_token == "xoxb-T0109-a-bot"
    assert await installations.async_find_bot(enterprise_id="E0003", team_id="T0109") is None

    # A workspace of the org installed on its own is its own installation.
    await installations.async_save(installation("T0101", enterprise_id="E0001", tag="own"))
    own = await installations.async_find_bot(enterprise_id="E0001", team_id="T0101")
    assert own is not None and own.bot_token == "xoxb-T0101-own-bot"
    org = await installations.async_find_bot(enterprise_id="E0001", team_id="T0101", is_enterprise_install=True)
    assert org is not None and org.bot_token == "xoxb-E0001-a-bot"


async def test_the_latest_installation_wins_and_a_late_older_save_changes_nothing(
    installations: SlackInstallationStore,
) -> None:
    await installations.async_save(installation(user_id="U0001", installed_at=1_800_000_100.0, tag="first"))
    await installations.async_save(installation(user_id="U0002", installed_at=1_800_000_200.0, tag="second"))

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    assert bot is not None and bot.bot_token == "xoxb-T0001-second-bot"
    latest = await installations.async_find_installation(enterprise_id=None, team_id="T0001")
    assert latest is not None and latest.user_id == "U0002"
    # The first installer keeps their own user token, with the workspace's current bot.
    first = await installations.async_find_installation(enterprise_id=None, team_id="T0001", user_id="U0001")
    assert first is not None
    assert (first.user_token, first.bot_token) == ("xoxp-T0001-U0001-first-user", "xoxb-T0001-second-bot")

    # A replica that finishes an older install late does not bring its token back.
    await installations.async_save(installation(user_id="U0001", installed_at=1_800_000_050.0, tag="stale"))
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    assert bot is not None and bot.bot_token == "xoxb-T0001-second-bot"
    first = await installations.async_find_installation(enterprise_id=None, team_id="T0001", user_id="U0001")
    assert first is not None and first.user_token == "xoxp-T0001-U0001-first-user"

    # Bolt's token rotation saves the same installation (same installed_at) with new tokens: taken.
    refreshed = installation(user_id="U0002", installed_at=1_800_000_200.0, tag="refreshed")
    await installations.async_save(refreshed)
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    assert bot is not None and bot.bot_token == "xoxb-T0001-refreshed-bot"


async def test_delete_an_installer_the_bot_or_everything_of_one_workspace(
    installations: SlackInstallationStore,
) -> None:
    await installations.async_save(installation(user_id="U0001", installed_at=1_800_000_100.0))
    await installations.async_save(installation(user_id="U0002", installed_at=1_800_000_200.0))
    await installations.async_save(installation("T0002", tag="kept"))

    await installations.async_delete_installation(enterprise_id=None, team_id="T0001", user_id="U0002")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0001", user_id="U0002") is None
    left = await installations.async_find_installation(enterprise_id=None, team_id="T0001")
    assert left is not None and left.user_id == "U0001"
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0001") is not None

    await installations.async_delete_bot(enterprise_id=None, team_id="T0001")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0001") is None

    await installations.async_save(installation(user_id="U0003", installed_at=1_800_000_300.0))
    await installations.async_delete_installation(enterprise_id=None, team_id="T0001")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0001") is None

    await installations.async_save(installation(user_id="U0003", installed_at=1_800_000_400.0))
    await installations.async_delete_all(enterprise_id=None, team_id="T0001")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0001") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0001") is None
    # The other workspace is untouched.
    kept = await installations.async_find_bot(enterprise_id=None, team_id="T0002")
    assert kept is not None and kept.bot_token == "xoxb-T0002-kept-bot"

    # An org-wide install is deleted by its org, with no team.
    await installations.async_save(installation(None, enterprise_id="E0001", org_wide=True))
    await installations.async_delete_all(enterprise_id="E0001", team_id=None)
    assert (
        await installations.async_find_bot(enterprise_id="E0001", team_id="T0101", is_enterprise_install=True) is None
    )


async def raw_dump(store: Store, database_url: str) -> bytes:
    """Everything the database holds, as an attacker with a copy would read it."""
    if store.engine == "sqlite":
        folder = Path(database_url.removeprefix("sqlite:///")).parent
        return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())
    tables = await store._db.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    dump: list[str] = []
    for table in tables:
        rows = await store._db.fetch(f"SELECT CAST(t AS TEXT) FROM {table[0]} AS t")
        dump.extend(str(row[0]) for row in rows)
    return "\n".join(dump).encode()


async def test_a_raw_copy_of_the_database_holds_no_token(
    store: Store, installations: SlackInstallationStore, database_url: str
) -> None:
    await installations.async_save(installation())
    await installations.async_save(installation(None, enterprise_id="E0001", org_wide=True))
    dump = await raw_dump(store, database_url)
    assert b"T0001" in dump and b"UBOT0001" in dump  # the dump is real: it holds what is not secret
    for secret in (b"xoxb-", b"xoxe-", b"xoxp-", b"secretpath"):
        assert secret not in dump


async def test_a_token_copied_into_another_workspaces_row_does_not_open(
    store: Store, installations: SlackInstallationStore
) -> None:
    await installations.async_save(installation("T0001"))
    await installations.async_save(installation("T0002", tag="victim"))
    async with store._engine.transaction() as db:
        await db.execute(
            "UPDATE slack_bots SET bot_token = (SELECT bot_token FROM slack_bots WHERE team_id = ?) WHERE team_id = ?",
            "T0002",
            "T0001",
        )
    with pytest.raises(SealedValueError, match="another one"):
        await installations.async_find_bot(enterprise_id=None, team_id="T0001")
    # A store with another key cannot open any of them either.
    with pytest.raises(SealedValueError, match="no longer holds"):
        await SlackInstallationStore(store, KeyRing.parse(generate_key())).async_find_bot(
            enterprise_id=None, team_id="T0002"
        )


async def test_a_state_is_good_once_however_many_replicas_consume_it_at_once(store: Store, database_url: str) -> None:
    states = SlackOAuthStateStore(store)
    other_replica = await Store.open(database_url)
    try:
        elsewhere = SlackOAuthStateStore(other_replica)
        state = await states.async_issue()
        results = await asyncio.gather(
            *(replica.async_consume(state) for _ in range(5) for replica in (states, elsewhere))
        )
        assert sorted(results) == [False] * 9 + [True]
        assert await elsewhere.async_consume(state) is False

        # Issued on one replica, completed on another.
        begun = await states.async_issue()
        assert await elsewhere.async_consume(begun) is True
        assert await states.async_consume(begun) is False
    finally:
        await other_replica.close()
    for forged in ("", "not-a-state-we-issued", state + "x"):
        assert await states.async_consume(forged) is False


async def test_a_state_expires_by_the_injected_clock(store: Store) -> None:
    clock = FakeClock()
    states = SlackOAuthStateStore(store, clock=clock)
    on_time, late = await states.async_issue(), await states.async_issue()
    assert on_time != late
    clock.advance(STATE_EXPIRATION_SECONDS - 1)
    assert await states.async_consume(on_time) is True
    clock.advance(1)
    assert await states.async_consume(late) is False
    # Refused once expired, and gone: a later look finds nothing either.
    assert await states.async_consume(late) is False
    # Expired states are cleared as new ones are issued: the table does not grow with abandoned installs.
    for _ in range(3):
        await states.async_issue()
    clock.advance(STATE_EXPIRATION_SECONDS)
    fresh = await states.async_issue()
    assert int(await store._db.fetchval("SELECT COUNT(*) FROM oauth_states")) == 1
    assert await states.async_consume(fresh) is True
