"""Each workspace's Perf key and settings (storage/workspaces.py), on both engines: the key is found again for
its team and no other, a raw copy of the database holds no key, forgetting deletes a workspace's data and
nobody else's, and rotation seals every secret again under the new key while the old key still opens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Store
from storage.installations import SlackInstallationStore
from storage.secrets import KeyRing, SealedValueError, Workspace, generate_key
from storage.workspaces import UnfinishedJobs, WorkspaceStore
from tests.fakes.jobs import stored_job
from tests.test_installations import installation, raw_dump

OLD = generate_key()
KEYS = KeyRing.parse(OLD)
ACME = Workspace(None, "T0001")
GLOBEX = Workspace(None, "T0002")
ORG = Workspace("E0001", None)
KEY_A = "pk_live_acme_secret_key_4f2a"
KEY_B = "pk_live_globex_secret_key_9b1c"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


@pytest.fixture
def workspaces(store: Store) -> WorkspaceStore:
    return WorkspaceStore(store, KEYS)


async def test_a_key_is_found_for_its_team_only_and_shows_only_its_last_four(workspaces: WorkspaceStore) -> None:
    await workspaces.set_perf_key(ACME, KEY_A, set_by="UADMIN", now=1_800_000_000.0)
    await workspaces.set_perf_key(GLOBEX, KEY_B, set_by="UOTHER", now=1_800_000_100.0)
    assert await workspaces.perf_key("T0001") == KEY_A
    assert await workspaces.perf_key("T0002") == KEY_B
    assert await workspaces.perf_key("T0003") is None
    status = await workspaces.perf_key_status(ACME)
    assert status is not None and (status.last_four, status.set_by, status.set_at) == (
        "4f2a",
        "UADMIN",
        1_800_000_000.0,
    )
    # A new key replaces the old one.
    await workspaces.set_perf_key(ACME, "pk_live_acme_second_key_77aa", set_by="UADMIN", now=1_800_000_200.0)
    assert await workspaces.perf_key("T0001") == "pk_live_acme_second_key_77aa"
    assert await workspaces.delete_perf_key(ACME)
    assert await workspaces.perf_key("T0001") is None


async def test_an_org_key_pays_for_its_workspaces_without_their_own(workspaces: WorkspaceStore) -> None:
    await workspaces.set_perf_key(ORG, KEY_A, set_by="UORGADMIN", now=1_800_000_000.0)
    assert await workspaces.perf_key("T0101", enterprise_id="E0001") == KEY_A
    assert await workspaces.perf_key("T0101", enterprise_id="E0002") is None
    await workspaces.set_perf_key(Workspace("E0001", "T0101"), KEY_B, set_by="U1", now=1_800_000_000.0)
    assert await workspaces.perf_key("T0101", enterprise_id="E0001") == KEY_B


async def test_a_raw_copy_of_the_database_holds_no_perf_key(
    store: Store, workspaces: WorkspaceStore, database_url: str
) -> None:
    await workspaces.set_perf_key(ACME, KEY_A, set_by="UADMIN", now=1_800_000_000.0)
    dump = await raw_dump(store, database_url)
    assert b"UADMIN" in dump  # the dump is real: it holds what is not secret
    assert KEY_A.encode() not in dump and b"pk_live_" not in dump


async def test_a_key_copied_into_another_workspaces_row_does_not_open(store: Store, workspaces: WorkspaceStore) -> None:
    await workspaces.set_perf_key(ACME, KEY_A, set_by="U1", now=1.0)
    await workspaces.set_perf_key(GLOBEX, KEY_B, set_by="U2", now=1.0)
    async with store._engine.transaction() as db:
        await db.execute(
            "UPDATE workspace_perf_keys SET sealed_key = (SELECT sealed_key FROM workspace_perf_keys WHERE team_id = ?)"
            " WHERE team_id = ?",
            "T0002",
            "T0001",
        )
    with pytest.raises(SealedValueError, match="another one"):
        await workspaces.perf_key("T0001")


async def test_settings_overrides_are_each_workspaces_own(workspaces: WorkspaceStore) -> None:
    await workspaces.set_setting(ACME, "daily_jobs_per_channel", "3", set_by="UADMIN", now=5.0)
    await workspaces.set_setting(ACME, "approval_over_usd", "2.50", set_by="UADMIN", now=6.0)
    await workspaces.set_setting(GLOBEX, "daily_jobs_per_channel", "50", set_by="UOTHER", now=7.0)
    assert await workspaces.settings_of_team("T0001") == {"daily_jobs_per_channel": "3", "approval_over_usd": "2.50"}
    own = await workspaces.settings(GLOBEX)
    assert list(own) == ["daily_jobs_per_channel"] and own["daily_jobs_per_channel"].set_by == "UOTHER"
    await workspaces.set_setting(ACME, "daily_jobs_per_channel", "4", set_by="UADMIN2", now=8.0)
    assert (await workspaces.settings_of_team("T0001"))["daily_jobs_per_channel"] == "4"
    assert await workspaces.clear_setting(ACME, "daily_jobs_per_channel")
    assert not await workspaces.clear_setting(ACME, "daily_jobs_per_channel")
    assert await workspaces.settings_of_team("T0001") == {"approval_over_usd": "2.50"}


async def test_summaries_list_installations_keys_and_jobs_in_the_period(
    store: Store, workspaces: WorkspaceStore
) -> None:
    await SlackInstallationStore(store, KEYS).async_save(installation("T0001"))
    await workspaces.set_perf_key(ACME, KEY_A, set_by="U1", now=1.0)
    await workspaces.set_setting(GLOBEX, "timezone", "Europe/Paris", set_by="U2", now=1.0)
    for n, created in enumerate((100.0, 150.0, 250.0)):
        await store.insert_job(stored_job(created_at=created, id=f"vb_job{n}"))
    listed = {s.team_id: s for s in await workspaces.summaries((100.0, 200.0))}
    assert set(listed) == {"T0001", "T0002"}
    acme = listed["T0001"]
    assert (acme.name, acme.has_key, acme.jobs_in_period, acme.installed_at) == ("Team T0001", True, 2, 1_800_000_000.0)
    globex = listed["T0002"]
    assert (globex.has_key, globex.installed_at, globex.jobs_in_period) == (False, None, 0)


async def test_forget_deletes_one_workspaces_data_and_nobody_elses(store: Store, workspaces: WorkspaceStore) -> None:
    installations = SlackInstallationStore(store, KEYS)
    await installations.async_save(installation("T0001"))
    await installations.async_save(installation("T0002"))
    for team in (ACME, GLOBEX):
        await workspaces.set_perf_key(team, KEY_A, set_by="U1", now=1.0)
        await workspaces.set_setting(team, "timezone", "UTC", set_by="U1", now=1.0)
    for n, team_id in enumerate(("T0001", "T0001", "T0002")):
        await store.insert_job(stored_job(created_at=10.0 + n, id=f"vb_forget{n}", team_id=team_id))
    # An unfinished job stops it: nothing is deleted.
    with pytest.raises(UnfinishedJobs):
        await workspaces.forget(ACME)
    assert await workspaces.perf_key("T0001") == KEY_A
    async with store._engine.transaction() as db:
        await db.execute("UPDATE jobs SET state = 'delivered' WHERE team_id = 'T0001'")
    forgotten = await workspaces.forget(ACME)
    assert (forgotten.jobs, forgotten.keys, forgotten.settings, forgotten.installations) == (2, 1, 1, 2)
    assert await workspaces.perf_key("T0001") is None
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0001") is None
    assert await store.get_job("vb_forget0", team_id="T0001") is None
    # The other workspace keeps everything.
    assert await workspaces.perf_key("T0002") == KEY_A
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0002") is not None
    assert await store.get_job("vb_forget2", team_id="T0002") is not None
    assert await workspaces.settings_of_team("T0002") == {"timezone": "UTC"}


async def test_rotation_reseals_every_secret_and_old_keys_open_until_then(store: Store) -> None:
    old_ring = KeyRing.parse(OLD)
    await SlackInstallationStore(store, old_ring).async_save(installation("T0001"))
    await WorkspaceStore(store, old_ring).set_perf_key(ACME, KEY_A, set_by="U1", now=1.0)
    new = generate_key()
    both = KeyRing.parse(f"{new},{OLD}")
    rotating = WorkspaceStore(store, both)
    # Before the rotation, the new ring opens the old values.
    assert await rotating.perf_key("T0001") == KEY_A
    assert await rotating.sealed_by_old_keys() > 0
    changed = await rotating.reseal_all()
    assert changed >= 4  # the Perf key, and the installation's and bot's tokens
    assert await rotating.sealed_by_old_keys() == 0
    assert await rotating.reseal_all() == 0  # nothing left to do
    # The new key alone now opens everything; the old one alone opens nothing.
    new_only = KeyRing.parse(new)
    assert await WorkspaceStore(store, new_only).perf_key("T0001") == KEY_A
    bot = await SlackInstallationStore(store, new_only).async_find_bot(enterprise_id=None, team_id="T0001")
    assert bot is not None and bot.bot_token.startswith("xoxb-")
    with pytest.raises(SealedValueError, match="no longer holds"):
        await WorkspaceStore(store, KeyRing.parse(OLD)).perf_key("T0001")
