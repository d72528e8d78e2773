"""Many workspaces (issue 25): Slack installations and OAuth states in our own database, on both engines.

`SlackInstallationStore` is slack_sdk's `AsyncInstallationStore` and `SlackOAuthStateStore` its
`AsyncOAuthStateStore`, both for Bolt's `AsyncOAuthSettings(installation_store=…, state_store=…)`.
Bolt's own stores do not fit: its file stores are one machine's, its SQLite3 store blocks the event loop,
and none encrypts a token. Here every token, refresh token and webhook URL is sealed with the key ring
(storage/secrets.py), bound to its workspace and its column, before it reaches the database.

A workspace is (enterprise id, team id), '' for an absent one: a workspace outside Enterprise Grid is
('', T…), an org-wide install (E…, ''), a workspace of a Grid org installed on its own (E…, T…). As in
slack_sdk's stores, `is_enterprise_install=True` or no team looks up the org-wide install.

Each workspace keeps one bot (the latest install's) and one installation per installer; a save older than
what is stored (a slow replica finishing late) changes nothing, so the latest installation wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.domain.clock import Clock, SystemClock
from storage.base import StoreBase
from storage.engine import Row
from storage.secrets import KeyRing, Workspace

log = logging.getLogger("videobot.storage")

# Bolt's state cookie lives 600 s (AsyncOAuthSettings.state_expiration_seconds): the state as long.
STATE_EXPIRATION_SECONDS = 600

_INSTALLATION_SECRETS = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",
)
_BOT_SECRETS = ("bot_token", "bot_refresh_token")
# What of an Installation is stored in `details`: everything but its keys, times and secrets.
_INSTALLATION_DETAILS = (
    "app_id",
    "enterprise_name",
    "enterprise_url",
    "team_name",
    "bot_id",
    "bot_user_id",
    "bot_scopes",
    "user_scopes",
    "incoming_webhook_channel",
    "incoming_webhook_channel_id",
    "incoming_webhook_configuration_url",
    "token_type",
    "custom_values",
)
_BOT_DETAILS = ("app_id", "enterprise_name", "team_name", "bot_id", "bot_user_id", "bot_scopes", "custom_values")

_SAVE_INSTALLATION_SQL = (
    "INSERT INTO slack_installations (enterprise_id, team_id, user_id, is_enterprise_install, installed_at,"
    " bot_token, bot_refresh_token, bot_token_expires_at, user_token, user_refresh_token, user_token_expires_at,"
    " incoming_webhook_url, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (enterprise_id, team_id, user_id) DO UPDATE SET"
    " is_enterprise_install = excluded.is_enterprise_install, installed_at = excluded.installed_at,"
    " bot_token = excluded.bot_token, bot_refresh_token = excluded.bot_refresh_token,"
    " bot_token_expires_at = excluded.bot_token_expires_at, user_token = excluded.user_token,"
    " user_refresh_token = excluded.user_refresh_token, user_token_expires_at = excluded.user_token_expires_at,"
    " incoming_webhook_url = excluded.incoming_webhook_url, details = excluded.details"
    " WHERE excluded.installed_at >= slack_installations.installed_at"
)
_SAVE_BOT_SQL = (
    "INSERT INTO slack_bots (enterprise_id, team_id, is_enterprise_install, installed_at, bot_token,"
    " bot_refresh_token, bot_token_expires_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (enterprise_id, team_id) DO UPDATE SET"
    " is_enterprise_install = excluded.is_enterprise_install, installed_at = excluded.installed_at,"
    " bot_token = excluded.bot_token, bot_refresh_token = excluded.bot_refresh_token,"
    " bot_token_expires_at = excluded.bot_token_expires_at, details = excluded.details"
    " WHERE excluded.installed_at >= slack_bots.installed_at"
)
_FIND_BOT_SQL = "SELECT * FROM slack_bots WHERE enterprise_id = ? AND team_id = ?"
_FIND_LATEST_INSTALLATION_SQL = (
    "SELECT * FROM slack_installations WHERE enterprise_id = ? AND team_id = ? ORDER BY installed_at DESC LIMIT 1"
)
_FIND_USERS_INSTALLATION_SQL = (
    "SELECT * FROM slack_installations WHERE enterprise_id = ? AND team_id = ? AND user_id = ?"
)


def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> tuple[str, str]:
    """The stored (enterprise, team) of a lookup: an org-wide install's, when asked for one or for no team."""
    if is_enterprise_install or not team_id:
        return enterprise_id or "", ""
    return enterprise_id or "", team_id


def _workspace(enterprise_id: str, team_id: str) -> Workspace:
    return Workspace(enterprise_id=enterprise_id or None, team_id=team_id or None)


def _details(source: Installation | Bot, names: tuple[str, ...]) -> str:
    return json.dumps({name: getattr(source, name, None) for name in names}, sort_keys=True)


def _timestamp(value: Any) -> int | None:
    return int(value) if value is not None else None


class SlackInstallationStore(StoreBase, AsyncInstallationStore):
    """slack_sdk's installation store over our database, its secrets sealed with `keys`."""

    def __init__(self, store: StoreBase, keys: KeyRing) -> None:
        super().__init__(store._engine)
        self._keys = keys

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- sealing -------------------------------------------------------------------------------------

    def _seal(self, value: str | None, enterprise_id: str, team_id: str, column: str) -> str | None:
        return None if value is None else self._keys.seal(value, _workspace(enterprise_id, team_id), column)

    def _open(self, row: Row, column: str) -> str | None:
        stored = row[column]
        if stored is None:
            return None
        return self._keys.open(str(stored), _workspace(row["enterprise_id"], row["team_id"]), column)

    # --- saving --------------------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        """Store `installation` and its bot in one transaction (the bot only when it has a bot token)."""
        enterprise_id, team_id = _key(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        sealed = {
            column: self._seal(getattr(installation, column), enterprise_id, team_id, column)
            for column in _INSTALLATION_SECRETS
        }
        statements: list[tuple[str, list[Any]]] = [
            (
                _SAVE_INSTALLATION_SQL,
                [
                    enterprise_id,
                    team_id,
                    installation.user_id or "",
                    int(bool(installation.is_enterprise_install)),
                    float(installation.installed_at),
                    sealed["bot_token"],
                    sealed["bot_refresh_token"],
                    _timestamp(installation.bot_token_expires_at),
                    sealed["user_token"],
                    sealed["user_refresh_token"],
                    _timestamp(installation.user_token_expires_at),
                    sealed["incoming_webhook_url"],
                    _details(installation, _INSTALLATION_DETAILS),
                ],
            )
        ]
        if installation.bot_token is not None:
            statements.append(self._save_bot_statement(installation.to_bot()))
        async with self._engine.transaction() as db:
            await db.batch(*statements)
        log.info(
            "event=slack_installation_saved enterprise_id=%s team_id=%s org_wide=%s",
            enterprise_id or "-",
            team_id or "-",
            bool(installation.is_enterprise_install),
        )

    async def async_save_bot(self, bot: Bot) -> None:
        async with self._engine.transaction() as db:
            await db.batch(self._save_bot_statement(bot))

    def _save_bot_statement(self, bot: Bot) -> tuple[str, list[Any]]:
        enterprise_id, team_id = _key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        return (
            _SAVE_BOT_SQL,
            [
                enterprise_id,
                team_id,
                int(bool(bot.is_enterprise_install)),
                float(bot.installed_at),
                self._seal(bot.bot_token, enterprise_id, team_id, "bot_token"),
                self._seal(bot.bot_refresh_token, enterprise_id, team_id, "bot_refresh_token"),
                _timestamp(bot.bot_token_expires_at),
                _details(bot, _BOT_DETAILS),
            ],
        )

    # --- finding -------------------------------------------------------------------------------------

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        row = await self._db.fetchrow(_FIND_BOT_SQL, *_key(enterprise_id, team_id, is_enterprise_install))
        return self._bot(row) if row is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The installer's installation, or without `user_id` the workspace's latest; either carries the
        workspace's current bot (a later install by someone else may have replaced the bot token)."""
        key = _key(enterprise_id, team_id, is_enterprise_install)
        if user_id is None:
            row = await self._db.fetchrow(_FIND_LATEST_INSTALLATION_SQL, *key)
        else:
            row = await self._db.fetchrow(_FIND_USERS_INSTALLATION_SQL, *key, user_id)
        if row is None:
            return None
        installation = self._installation(row)
        bot_row = await self._db.fetchrow(_FIND_BOT_SQL, *key)
        if bot_row is not None:
            bot = self._bot(bot_row)
            if bot.bot_token != installation.bot_token:
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
                installation.bot_token = bot.bot_token
                installation.bot_scopes = bot.bot_scopes
                installation.bot_refresh_token = bot.bot_refresh_token
                installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def _bot(self, row: Row) -> Bot:
        details = json.loads(row["details"])
        return Bot(
            app_id=details.get("app_id"),
            enterprise_id=row["enterprise_id"] or None,
            enterprise_name=details.get("enterprise_name"),
            team_id=row["team_id"] or None,
            team_name=details.get("team_name"),
            bot_token=self._open(row, "bot_token") or "",
            bot_id=details.get("bot_id"),
            bot_user_id=details.get("bot_user_id"),
            bot_scopes=details.get("bot_scopes") or "",
            bot_refresh_token=self._open(row, "bot_refresh_token"),
            bot_token_expires_at=_timestamp(row["bot_token_expires_at"]),
            is_enterprise_install=bool(row["is_enterprise_install"]),
            installed_at=float(row["installed_at"]),
            custom_values=details.get("custom_values") or {},
        )

    def _installation(self, row: Row) -> Installation:
        details = json.loads(row["details"])
        return Installation(
            app_id=details.get("app_id"),
            enterprise_id=row["enterprise_id"] or None,
            enterprise_name=details.get("enterprise_name"),
            enterprise_url=details.get("enterprise_url"),
            team_id=row["team_id"] or None,
            team_name=details.get("team_name"),
            bot_token=self._open(row, "bot_token"),
            bot_id=details.get("bot_id"),
            bot_user_id=details.get("bot_user_id"),
            bot_scopes=details.get("bot_scopes") or "",
            bot_refresh_token=self._open(row, "bot_refresh_token"),
            bot_token_expires_at=_timestamp(row["bot_token_expires_at"]),
            user_id=row["user_id"],
            user_token=self._open(row, "user_token"),
            user_scopes=details.get("user_scopes") or "",
            user_refresh_token=self._open(row, "user_refresh_token"),
            user_token_expires_at=_timestamp(row["user_token_expires_at"]),
            incoming_webhook_url=self._open(row, "incoming_webhook_url"),
            incoming_webhook_channel=details.get("incoming_webhook_channel"),
            incoming_webhook_channel_id=details.get("incoming_webhook_channel_id"),
            incoming_webhook_configuration_url=details.get("incoming_webhook_configuration_url"),
            is_enterprise_install=bool(row["is_enterprise_install"]),
            token_type=details.get("token_type"),
            installed_at=float(row["installed_at"]),
            custom_values=details.get("custom_values") or {},
        )

    # --- deleting ------------------------------------------------------------------------------------

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "DELETE FROM slack_bots WHERE enterprise_id = ? AND team_id = ?", *_key(enterprise_id, team_id)
            )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """The installer's installation, or without `user_id` every installation of the workspace."""
        key = _key(enterprise_id, team_id)
        async with self._engine.transaction() as db:
            if user_id is None:
                await db.execute("DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?", *key)
            else:
                await db.execute(
                    "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ? AND user_id = ?",
                    *key,
                    user_id,
                )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Every token of the workspace, its bot's and its installers', in one transaction."""
        key = _key(enterprise_id, team_id)
        async with self._engine.transaction() as db:
            await db.batch(
                ("DELETE FROM slack_bots WHERE enterprise_id = ? AND team_id = ?", key),
                ("DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?", key),
            )
        log.info("event=slack_installation_deleted enterprise_id=%s team_id=%s", key[0] or "-", key[1] or "-")


def _digest(state: str) -> str:
    """What is stored of a state: its digest, so a copy of the database cannot complete anyone's install."""
    return hashlib.sha256(state.encode()).hexdigest()


class SlackOAuthStateStore(StoreBase, AsyncOAuthStateStore):
    """OAuth states in our database: issued on one replica, consumed once on any, refused once expired."""

    def __init__(
        self,
        store: StoreBase,
        *,
        expiration_seconds: float = STATE_EXPIRATION_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(store._engine)
        self._expiration_seconds = expiration_seconds
        self._clock: Clock = clock or SystemClock()

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state, good once for `expiration_seconds`; states expired meanwhile are cleared."""
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._engine.transaction() as db:
            await db.batch(
                ("DELETE FROM oauth_states WHERE expires_at <= ?", [now]),
                (
                    "INSERT INTO oauth_states (state_digest, expires_at) VALUES (?, ?)",
                    [_digest(state), now + self._expiration_seconds],
                ),
            )
        return state

    async def async_consume(self, state: str) -> bool:
        """Whether `state` was issued and has not expired; true once at most, however many ask at once."""
        if not isinstance(state, str) or not state:
            return False
        async with self._engine.transaction() as db:
            rows = await db.fetch(
                "DELETE FROM oauth_states WHERE state_digest = ? RETURNING expires_at", _digest(state)
            )
        if not rows:
            log.info("event=oauth_state_refused why=unknown_or_used")
            return False
        if float(rows[0]["expires_at"]) <= self._clock.now():
            log.info("event=oauth_state_refused why=expired")
            return False
        return True
