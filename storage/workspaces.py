"""Many workspaces (issue 25): each workspace's own Perf key and its settings overrides, on both engines.

A workspace is (enterprise id, team id) as in storage/installations.py, '' for an absent one. Its Perf key
is sealed with the key ring (storage/secrets.py), bound to the workspace and the purpose `perf_key`, so a
raw copy of the database holds no key and a sealed key copied into another workspace's row does not open.
What is kept in clear is what App Home shows of it: its last four characters, who set it and when.

A job knows its team only; its key is the team's own, else its Grid org's (enterprise, '') when the caller
names the org. Settings overrides are (name, value) text pairs; what a name means and how its value reads is
the resolver's (bot/jobs/workspace_settings.py), not storage's.

Also here: the operator's view of the installations (`videobot workspaces`), forgetting a workspace's data
(`videobot workspaces forget`), and sealing every stored secret again under the ring's first key
(`videobot keys rotate`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.job import TERMINAL_STATES
from storage.base import StoreBase
from storage.engine import Statement
from storage.secrets import KeyRing, Workspace
from storage.sql import states_list

log = logging.getLogger("videobot.storage")

PERF_KEY_PURPOSE = "perf_key"
_TERMINAL = states_list(TERMINAL_STATES)

# The sealed columns of the installations' tables (storage/installations.py), each sealed for its column.
_SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "slack_installations": (
        "bot_token",
        "bot_refresh_token",
        "user_token",
        "user_refresh_token",
        "incoming_webhook_url",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
_TABLE_KEYS = {
    "slack_installations": ("enterprise_id", "team_id", "user_id"),
    "slack_bots": ("enterprise_id", "team_id"),
}

_SET_KEY_SQL = (
    "INSERT INTO workspace_perf_keys (enterprise_id, team_id, sealed_key, last_four, set_by, set_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (enterprise_id, team_id) DO UPDATE SET"
    " sealed_key = excluded.sealed_key, last_four = excluded.last_four, set_by = excluded.set_by,"
    " set_at = excluded.set_at"
)
_SET_SETTING_SQL = (
    "INSERT INTO workspace_settings (enterprise_id, team_id, name, value, set_by, set_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (enterprise_id, team_id, name) DO UPDATE SET"
    " value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at"
)
# The tables that hold a job's rows besides `jobs` itself, keyed by its id.
_JOB_TABLES = ("job_events", "job_triggers", "job_words", "take_posts", "approval_copies")
# Every other table keyed by the workspace (issue 25): what it set, counted, claimed or was seen to do.
_TEAM_TABLES = (
    "job_counts",
    "spend_days",
    "channel_limits",
    "daily_reports",
    "home_viewers",
    "budget_notices",
    "video_defaults",
    "video_presets",
    "people_locales",
    "retention_marks",
)


def last_four(key: str) -> str:
    """What may be shown of a key: its last four characters (none of a key too short to spare them)."""
    return key[-4:] if len(key) >= 12 else ""


def _ids(workspace: Workspace) -> tuple[str, str]:
    return workspace.enterprise_id or "", workspace.team_id or ""


def _workspace(enterprise_id: str, team_id: str) -> Workspace:
    return Workspace(enterprise_id=enterprise_id or None, team_id=team_id or None)


@dataclass(frozen=True)
class KeyStatus:
    """What is shown of a workspace's key: never the key."""

    last_four: str
    set_by: str
    set_at: float


@dataclass(frozen=True)
class SettingOverride:
    name: str
    value: str
    set_by: str
    set_at: float


@dataclass(frozen=True)
class WorkspaceSummary:
    """One line of `videobot workspaces`: never a key."""

    enterprise_id: str
    team_id: str
    name: str
    org_wide: bool
    installed_at: float | None  # None: not installed through Slack (a key or settings only)
    has_key: bool
    jobs_in_period: int


@dataclass(frozen=True)
class Forgotten:
    jobs: int
    keys: int
    settings: int
    installations: int


class UnfinishedJobs(Exception):
    """A workspace still has jobs under way; forgetting it now would pull rows from under them."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} job(s) of this workspace are not finished yet")
        self.count = count


class WorkspaceStore(StoreBase):
    """Each workspace's Perf key (sealed with `keys`) and settings overrides."""

    def __init__(self, store: StoreBase, keys: KeyRing) -> None:
        super().__init__(store._engine)
        self._keys = keys

    # --- the Perf key ----------------------------------------------------------------------------------

    async def set_perf_key(self, workspace: Workspace, key: str, *, set_by: str, now: float) -> None:
        """Store `key` as the workspace's own Perf key, sealed; replaces the one before."""
        enterprise_id, team_id = _ids(workspace)
        sealed = self._keys.seal(key, workspace, PERF_KEY_PURPOSE)
        async with self._engine.transaction() as db:
            await db.execute(_SET_KEY_SQL, enterprise_id, team_id, sealed, last_four(key), set_by, now)
        log.info("event=perf_key_set enterprise_id=%s team_id=%s by=%s", enterprise_id or "-", team_id or "-", set_by)

    async def perf_key(self, team_id: str, enterprise_id: str = "") -> str | None:
        """The key that pays for `team_id`'s jobs: its own, else (when `enterprise_id` is given) its org's."""
        row = None
        if team_id:
            row = await self._db.fetchrow(
                "SELECT enterprise_id, team_id, sealed_key FROM workspace_perf_keys WHERE team_id = ?"
                " ORDER BY enterprise_id LIMIT 1",
                team_id,
            )
        if row is None and enterprise_id:
            row = await self._db.fetchrow(
                "SELECT enterprise_id, team_id, sealed_key FROM workspace_perf_keys"
                " WHERE enterprise_id = ? AND team_id = ''",
                enterprise_id,
            )
        if row is None:
            return None
        workspace = _workspace(str(row["enterprise_id"]), str(row["team_id"]))
        return self._keys.open(str(row["sealed_key"]), workspace, PERF_KEY_PURPOSE)

    async def perf_key_status(self, workspace: Workspace) -> KeyStatus | None:
        row = await self._db.fetchrow(
            "SELECT last_four, set_by, set_at FROM workspace_perf_keys WHERE enterprise_id = ? AND team_id = ?",
            *_ids(workspace),
        )
        if row is None:
            return None
        return KeyStatus(str(row["last_four"]), str(row["set_by"]), float(row["set_at"]))

    async def delete_perf_key(self, workspace: Workspace) -> bool:
        async with self._engine.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM workspace_perf_keys WHERE enterprise_id = ? AND team_id = ?", *_ids(workspace)
            )
        return deleted > 0

    # --- settings overrides ----------------------------------------------------------------------------

    async def set_setting(self, workspace: Workspace, name: str, value: str, *, set_by: str, now: float) -> None:
        async with self._engine.transaction() as db:
            await db.execute(_SET_SETTING_SQL, *_ids(workspace), name, value, set_by, now)

    async def clear_setting(self, workspace: Workspace, name: str) -> bool:
        async with self._engine.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM workspace_settings WHERE enterprise_id = ? AND team_id = ? AND name = ?",
                *_ids(workspace),
                name,
            )
        return deleted > 0

    async def settings(self, workspace: Workspace) -> dict[str, SettingOverride]:
        """The workspace's own settings, by name."""
        rows = await self._db.fetch(
            "SELECT name, value, set_by, set_at FROM workspace_settings WHERE enterprise_id = ? AND team_id = ?"
            " ORDER BY name",
            *_ids(workspace),
        )
        return {
            str(row["name"]): SettingOverride(
                str(row["name"]), str(row["value"]), str(row["set_by"]), float(row["set_at"])
            )
            for row in rows
        }

    async def settings_of_team(self, team_id: str) -> dict[str, str]:
        """A team's own settings by name (a job knows its team only)."""
        rows = await self._db.fetch("SELECT name, value FROM workspace_settings WHERE team_id = ?", team_id)
        return {str(row["name"]): str(row["value"]) for row in rows}

    # --- the operator's view ---------------------------------------------------------------------------

    async def summaries(self, period: tuple[float, float]) -> list[WorkspaceSummary]:
        """Every workspace videobot knows (installed, or with a key or settings of its own), and its jobs
        created in `period` ([start, end))."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for row in await self._db.fetch(
            "SELECT enterprise_id, team_id, is_enterprise_install, installed_at, details FROM slack_bots"
        ):
            found[(str(row["enterprise_id"]), str(row["team_id"]))] = {
                "org_wide": bool(row["is_enterprise_install"]),
                "installed_at": float(row["installed_at"]),
                "name": _name_of(str(row["details"])),
            }
        keyed = {
            (str(row[0]), str(row[1]))
            for row in await self._db.fetch("SELECT enterprise_id, team_id FROM workspace_perf_keys")
        }
        configured = {
            (str(row[0]), str(row[1]))
            for row in await self._db.fetch("SELECT DISTINCT enterprise_id, team_id FROM workspace_settings")
        }
        for ids in keyed | configured:
            found.setdefault(ids, {"org_wide": False, "installed_at": None, "name": ""})
        summaries = []
        for (enterprise_id, team_id), about in sorted(found.items()):
            jobs = 0
            if team_id:
                jobs = int(
                    await self._db.fetchval(
                        "SELECT COUNT(*) FROM jobs WHERE team_id = ? AND created_at >= ? AND created_at < ?",
                        team_id,
                        *period,
                    )
                    or 0
                )
            summaries.append(
                WorkspaceSummary(
                    enterprise_id=enterprise_id,
                    team_id=team_id,
                    name=str(about["name"]),
                    org_wide=bool(about["org_wide"]),
                    installed_at=about["installed_at"],
                    has_key=(enterprise_id, team_id) in keyed,
                    jobs_in_period=jobs,
                )
            )
        return summaries

    async def installers(self, team_id: str) -> set[str]:
        """Who installed videobot in the team (or its org's org-wide install), each installation's person."""
        rows = await self._db.fetch("SELECT user_id FROM slack_installations WHERE team_id = ?", team_id)
        return {str(row[0]) for row in rows if row[0]}

    async def find(self, team_id: str) -> Workspace | None:
        """The workspace a team id names (an org's id names its org-wide install), if videobot knows it."""
        for table in ("slack_bots", "workspace_perf_keys", "workspace_settings"):
            row = await self._db.fetchrow(
                f"SELECT enterprise_id, team_id FROM {table} WHERE team_id = ? OR (team_id = '' AND enterprise_id = ?)"
                " LIMIT 1",
                team_id,
                team_id,
            )
            if row is not None:
                return _workspace(str(row[0]), str(row[1]))
        return None

    async def forget(self, workspace: Workspace) -> Forgotten:
        """Delete the workspace's data at once: its key, settings, installations and tokens, and its jobs
        with their events, triggers, words, reposts and approval copies. Raises UnfinishedJobs, having
        deleted nothing, while any of its jobs is under way."""
        enterprise_id, team_id = _ids(workspace)
        key = (enterprise_id, team_id)
        async with self._engine.transaction() as db:
            unfinished = 0
            if team_id:
                unfinished = int(
                    await db.fetchval(
                        f"SELECT COUNT(*) FROM jobs WHERE team_id = ? AND state NOT IN {_TERMINAL}", team_id
                    )
                    or 0
                )
            if unfinished:
                raise UnfinishedJobs(unfinished)
            counts: Sequence[Any] = []
            if team_id:
                counts = await db.fetch(
                    "SELECT state, COUNT(*), COUNT(perf_job_id) FROM jobs WHERE team_id = ? GROUP BY state", team_id
                )
            statements: list[Statement] = []
            if team_id:
                for table in _JOB_TABLES:
                    statements.append(
                        (f"DELETE FROM {table} WHERE job_id IN (SELECT id FROM jobs WHERE team_id = ?)", [team_id])
                    )
                statements += [(f"DELETE FROM {table} WHERE team_id = ?", [team_id]) for table in _TEAM_TABLES]
                statements.append(("DELETE FROM jobs WHERE team_id = ?", [team_id]))
            where = "WHERE enterprise_id = ? AND team_id = ?"
            # Its history is gone: nothing is left for the maintenance run to delete after an uninstall.
            statements.append((f"DELETE FROM workspace_departures {where}", key))
            statements += [
                (f"DELETE FROM workspace_perf_keys {where}", key),
                (f"DELETE FROM workspace_settings {where}", key),
                (f"DELETE FROM slack_bots {where}", key),
                (f"DELETE FROM slack_installations {where}", key),
            ]
            results = await db.batch(*statements)
        changed = [result.changed for result in results[-4:]]
        jobs = sum(int(row[1]) for row in counts)
        log.info(
            "event=workspace_forgotten enterprise_id=%s team_id=%s jobs=%d", enterprise_id or "-", team_id or "-", jobs
        )
        return Forgotten(jobs=jobs, keys=changed[0], settings=changed[1], installations=changed[2] + changed[3])

    # --- key rotation ----------------------------------------------------------------------------------

    async def reseal_all(self) -> int:
        """Seal every stored secret again under the ring's first key (Perf keys and installations' tokens);
        how many values changed. Each table in one transaction; a value that does not open stops it."""
        changed = 0
        async with self._engine.transaction() as db:
            rows = await db.fetch("SELECT enterprise_id, team_id, sealed_key FROM workspace_perf_keys")
            updates: list[Statement] = []
            for row in rows:
                stored = str(row["sealed_key"])
                if self._keys.sealed_by_current_key(stored):
                    continue
                workspace = _workspace(str(row["enterprise_id"]), str(row["team_id"]))
                updates.append(
                    (
                        "UPDATE workspace_perf_keys SET sealed_key = ? WHERE enterprise_id = ? AND team_id = ?",
                        [
                            self._keys.reseal(stored, workspace, PERF_KEY_PURPOSE),
                            row["enterprise_id"],
                            row["team_id"],
                        ],
                    )
                )
            if updates:
                await db.batch(*updates)
            changed += len(updates)
        for table, columns in _SEALED_COLUMNS.items():
            keys = _TABLE_KEYS[table]
            async with self._engine.transaction() as db:
                rows = await db.fetch(f"SELECT {', '.join(keys + columns)} FROM {table}")
                updates = []
                for row in rows:
                    workspace = _workspace(str(row["enterprise_id"]), str(row["team_id"]))
                    for column in columns:
                        stored = row[column]
                        if stored is None or self._keys.sealed_by_current_key(str(stored)):
                            continue
                        where = " AND ".join(f"{name} = ?" for name in keys)
                        updates.append(
                            (
                                f"UPDATE {table} SET {column} = ? WHERE {where}",
                                [self._keys.reseal(str(stored), workspace, column), *(row[name] for name in keys)],
                            )
                        )
                if updates:
                    await db.batch(*updates)
                changed += len(updates)
        log.info("event=secrets_resealed values=%d key_id=%s", changed, self._keys.key_ids[0])
        return changed

    async def sealed_by_old_keys(self) -> int:
        """How many stored secrets a rotation would still seal again."""
        count = 0
        for row in await self._db.fetch("SELECT sealed_key FROM workspace_perf_keys"):
            count += not self._keys.sealed_by_current_key(str(row[0]))
        for table, columns in _SEALED_COLUMNS.items():
            for row in await self._db.fetch(f"SELECT {', '.join(columns)} FROM {table}"):
                count += sum(
                    1
                    for column in columns
                    if row[column] is not None and not self._keys.sealed_by_current_key(str(row[column]))
                )
        return count


def _name_of(details: str) -> str:

    try:
        about = json.loads(details)
    except ValueError:
        return ""
    if not isinstance(about, dict):
        return ""
    return str(about.get("team_name") or about.get("enterprise_name") or "")
