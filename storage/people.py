"""What is remembered of people between restarts: the language their Slack is set to (issue 26).

A person's locale comes from users.info (`include_locale`), asked at most once a day per person and when
Slack says their profile changed (`user_change`); every private answer reads it from here, so no ack waits
on Slack for it."""

from __future__ import annotations

from storage.base import StoreBase


class PeopleQueries(StoreBase):
    async def locale_of(self, team_id: str, user_id: str) -> tuple[str, float] | None:
        """(the person's Slack locale, when it was asked), or None if never asked."""
        row = await self._db.fetchrow(
            "SELECT locale, fetched_at FROM people_locales WHERE team_id = ? AND user_id = ?", team_id, user_id
        )
        return None if row is None else (str(row[0]), float(row[1]))

    async def set_locale(self, team_id: str, user_id: str, locale: str, fetched_at: float) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO people_locales (team_id, user_id, locale, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (team_id, user_id) DO UPDATE SET locale = excluded.locale, "
                "fetched_at = excluded.fetched_at",
                team_id,
                user_id,
                locale,
                fetched_at,
            )
