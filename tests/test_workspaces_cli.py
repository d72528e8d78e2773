"""The operator's commands for many workspaces (issue 25), run as the operator runs them, on both engines:
`videobot workspaces` lists installations and never a key, `set-key` reads the key from stdin, checks it
with Perf and exits 1 storing nothing when Perf refuses it, `forget` deletes one workspace's data, and
`videobot keys rotate` seals every stored secret again under the first key."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.db import Store
from storage.installations import SlackInstallationStore
from storage.secrets import KeyRing, Workspace, generate_key
from storage.workspaces import WorkspaceStore
from tests.fakes.jobs import stored_job
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment, videobot_command
from tests.fakes.slack import FakeSlack
from tests.test_installations import installation

OLD = generate_key()
NEW_KEY = "pk_live_acme_own_key_00004f2a"


@pytest.fixture
def env(fake_slack: FakeSlack, fake_perf: FakePerf, database_url: str) -> dict[str, str]:
    return bot_environment(fake_slack, fake_perf, database_url, VIDEOBOT_ENCRYPTION_KEY=OLD)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def videobot(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *videobot_command(*args),
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_set_key_checks_with_perf_stores_it_sealed_and_the_list_never_shows_it(
    env: dict[str, str], tmp_path: Path, store: Store, fake_perf: FakePerf
) -> None:
    await SlackInstallationStore(store, KeyRing.parse(OLD)).async_save(installation("T0001"))
    await store.insert_job(stored_job(created_at=time.time()))  # T0001's, this month
    fake_perf.add_key(NEW_KEY)

    # A key Perf refuses: exit 1, nothing stored, the key never echoed.
    code, out, err = await videobot(env, tmp_path, "workspaces", "set-key", "T0001", stdin="pk_live_refused_by_perf\n")
    assert code == 1 and "Perf refused this key: nothing was stored" in err
    assert "pk_live_refused_by_perf" not in out + err
    assert await WorkspaceStore(store, KeyRing.parse(OLD)).perf_key("T0001") is None

    # Not a key at all: a clear answer, no traceback.
    code, _, err = await videobot(env, tmp_path, "workspaces", "set-key", "T0001", stdin="")
    assert code == 1 and "no key on stdin" in err and "Traceback" not in err

    code, out, err = await videobot(env, tmp_path, "workspaces", "set-key", "T0001", stdin=NEW_KEY + "\n")
    assert code == 0, err
    assert out.strip() == "T0001: Perf key set, ends in …4f2a; its jobs are now paid with it"
    assert await WorkspaceStore(store, KeyRing.parse(OLD)).perf_key("T0001") == NEW_KEY

    code, out, err = await videobot(env, tmp_path, "workspaces")
    assert code == 0, err
    header, line = out.strip().splitlines()
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert header.split() == ["team", "org", "name", "installed", "perf", "key", "jobs", this_month]
    assert line.split() == ["T0001", "-", "Team", "T0001", "2027-01-15", "own", "1"]
    assert NEW_KEY not in out and "4f2a" not in out


async def test_the_list_says_who_pays_and_needs_no_encryption_key(
    env: dict[str, str], tmp_path: Path, store: Store
) -> None:
    await SlackInstallationStore(store, KeyRing.parse(OLD)).async_save(installation("T0002"))
    code, out, _ = await videobot(env, tmp_path, "workspaces")
    assert code == 0 and "T0002" in out and "operator's" in out
    without = {k: v for k, v in env.items() if k not in ("VIDEOBOT_ENCRYPTION_KEY", "PERF_API_KEY")}
    code, out, _ = await videobot(without, tmp_path, "workspaces")
    assert code == 0 and "T0002" in out and "none" in out.splitlines()[1].split()
    # set-key cannot seal without the key: one line naming the setting.
    code, _, err = await videobot(without, tmp_path, "workspaces", "set-key", "T0002", stdin=NEW_KEY)
    assert code == 2 and "VIDEOBOT_ENCRYPTION_KEY is not set" in err and NEW_KEY not in err


async def test_forget_deletes_a_workspace_and_refuses_an_unknown_one(
    env: dict[str, str], tmp_path: Path, store: Store
) -> None:
    ring = KeyRing.parse(OLD)
    await SlackInstallationStore(store, ring).async_save(installation("T0001"))
    await WorkspaceStore(store, ring).set_perf_key(Workspace(None, "T0001"), NEW_KEY, set_by="U1", now=1.0)
    await store.insert_job(stored_job(created_at=5.0))

    code, _, err = await videobot(env, tmp_path, "workspaces", "forget", "T0001")
    assert code == 1 and "still has 1 job(s) under way: nothing was deleted" in err
    async with store._engine.transaction() as db:
        await db.execute("UPDATE jobs SET state = 'delivered'")
    code, out, err = await videobot(env, tmp_path, "workspaces", "forget", "T0001")
    assert code == 0, err
    assert out.strip() == "T0001: forgotten: 1 job(s), 2 installation row(s), its Perf key, 0 setting(s)"
    assert await store.jobs() == [] and await WorkspaceStore(store, ring).perf_key("T0001") is None

    code, _, err = await videobot(env, tmp_path, "workspaces", "forget", "T0009")
    assert code == 1 and "no workspace T0009" in err


async def test_keys_rotate_reseals_under_the_first_key(env: dict[str, str], tmp_path: Path, store: Store) -> None:
    ring = KeyRing.parse(OLD)
    await SlackInstallationStore(store, ring).async_save(installation("T0001"))
    await WorkspaceStore(store, ring).set_perf_key(Workspace(None, "T0001"), NEW_KEY, set_by="U1", now=1.0)
    new = generate_key()
    rotated_env = {**env, "VIDEOBOT_ENCRYPTION_KEY": f"{new},{OLD}"}
    sealed = await WorkspaceStore(store, KeyRing.parse(f"{new},{OLD}")).sealed_by_old_keys()
    assert sealed >= 6  # the Perf key, and the installation's and its bot's tokens
    code, out, err = await videobot(rotated_env, tmp_path, "keys", "rotate")
    assert code == 0, err
    assert out.startswith(f"re-sealed {sealed} stored secret(s) under key ") and "0 left under older keys" in out
    assert await WorkspaceStore(store, KeyRing.parse(new)).perf_key("T0001") == NEW_KEY
    # A ring that lacks the key a value was sealed with: one line, exit 1, no traceback.
    code, _, err = await videobot({**env, "VIDEOBOT_ENCRYPTION_KEY": generate_key()}, tmp_path, "keys", "rotate")
    assert code == 1 and "no longer holds" in err and "Traceback" not in err
