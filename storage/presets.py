"""Presets (issue 28): named recipes of settings, a person's own or a channel's, stored as their options."""

from __future__ import annotations

import json

from bot.domain.presets import Preset
from storage.base import StoreBase
from storage.engine import Row

# The person's own presets and the channel's, in one read.
PRESETS_SQL = (
    "SELECT scope, name, options, set_by, set_at FROM video_presets "
    "WHERE (team_id = ? AND scope = ? AND owner_id = ?) OR (team_id = ? AND scope = ? AND owner_id = ?) "
    "ORDER BY name, scope"
)


def _preset_from_row(row: Row) -> Preset:
    options = json.loads(row[2])
    return Preset(
        name=str(row[1]),
        scope=str(row[0]),
        options={str(k): str(v) for k, v in options.items()},
        set_by=str(row[3]),
        set_at=float(row[4]),
    )


class PresetQueries(StoreBase):
    async def presets_for(self, team_id: str, channel_id: str, user_id: str) -> list[Preset]:
        """The person's own presets and the channel's (none for an empty channel_id), by name."""
        rows = await self._db.fetch(PRESETS_SQL, team_id, "person", user_id, team_id, "channel", channel_id or "-")
        return [_preset_from_row(row) for row in rows]

    async def save_preset(self, team_id: str, owner_id: str, preset: Preset) -> None:
        """Store `preset` under its name for `owner_id` (a person, or a channel), replacing one of that name."""
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO video_presets (team_id, scope, owner_id, name, options, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, scope, owner_id, name) DO UPDATE SET "
                "options = excluded.options, set_by = excluded.set_by, set_at = excluded.set_at",
                team_id,
                preset.scope,
                owner_id,
                preset.name,
                json.dumps(dict(preset.options), sort_keys=True),
                preset.set_by,
                preset.set_at,
            )

    async def delete_preset(self, team_id: str, scope: str, owner_id: str, name: str) -> bool:
        """Remove it; False if there was none."""
        async with self._engine.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM video_presets WHERE team_id = ? AND scope = ? AND owner_id = ? AND name = ?",
                team_id,
                scope,
                owner_id,
                name,
            )
            return bool(deleted)
