"""Defaults that stick: each channel's and each person's, stored as the options they were set with."""

from __future__ import annotations

import json

from bot.domain.defaults import Defaults
from storage.base import StoreBase
from storage.engine import Row

CHANNEL_SCOPE = "channel"
PERSON_SCOPE = "person"
# The person's own defaults and the channel's, in one read: what every new request applies.
DEFAULTS_SQL = (
    "SELECT scope, options, set_by, set_at FROM video_defaults "
    "WHERE (team_id = ? AND scope = ? AND owner_id = ?) OR (team_id = ? AND scope = ? AND owner_id = ?)"
)


def _defaults_from_row(row: Row) -> Defaults:
    options = json.loads(row[1])
    return Defaults({str(k): str(v) for k, v in options.items()}, str(row[2]), float(row[3]))


class DefaultsQueries(StoreBase):
    async def defaults_for(
        self, team_id: str, channel_id: str, user_id: str
    ) -> tuple[Defaults | None, Defaults | None]:
        """(the person's own defaults, the channel's) in the workspace; None where none are set. An empty
        channel_id (a form opened from nowhere in particular) reads the person's alone."""
        rows = await self._db.fetch(
            DEFAULTS_SQL, team_id, PERSON_SCOPE, user_id, team_id, CHANNEL_SCOPE, channel_id or "-"
        )
        found = {str(row[0]): _defaults_from_row(row) for row in rows}
        return found.get(PERSON_SCOPE), found.get(CHANNEL_SCOPE) if channel_id else None

    async def set_defaults(self, team_id: str, scope: str, owner_id: str, defaults: Defaults) -> None:
        """Store `defaults` as the whole of `scope`'s defaults for `owner_id` (a channel, or a person)."""
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO video_defaults (team_id, scope, owner_id, options, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, scope, owner_id) DO UPDATE SET "
                "options = excluded.options, set_by = excluded.set_by, set_at = excluded.set_at",
                team_id,
                scope,
                owner_id,
                json.dumps(dict(defaults.options), sort_keys=True),
                defaults.set_by,
                defaults.set_at,
            )

    async def clear_defaults(self, team_id: str, scope: str, owner_id: str) -> bool:
        """Remove them; False if there were none."""
        async with self._engine.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM video_defaults WHERE team_id = ? AND scope = ? AND owner_id = ?", team_id, scope, owner_id
            )
            return bool(deleted)

    async def channel_language(self, team_id: str, channel_id: str) -> str | None:
        """The language a channel's admins set (`/video defaults --language`), or None."""
        row = await self._db.fetchrow(
            "SELECT options FROM video_defaults WHERE team_id = ? AND scope = ? AND owner_id = ?",
            team_id,
            CHANNEL_SCOPE,
            channel_id,
        )
        language = json.loads(row[0]).get("language") if row is not None else None
        return str(language) if language else None
