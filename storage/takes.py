"""Takes posted again elsewhere, once each (issue 28): a job's showcase, and a private job's share.

A post is claimed before it goes out; the claim is a lease: the caller that holds it posts and records the
message, then uploads the video under it and records that; a claim not finished (its holder crashed) is
taken over once it is older than the lease, and goes on from the last step recorded, so a crash loses
nothing. A finished post is never claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.base import StoreBase
from storage.engine import Row

SHOWCASE = "showcase"
SHARE = "share"


@dataclass(frozen=True)
class TakePost:
    team_id: str
    kind: str
    job_id: str
    channel_id: str
    by_user: str  # who starred it, or who shared it
    claimed_at: float
    message_ts: str | None
    posted_at: float | None
    video_done: bool = False


_COLUMNS = "team_id, kind, job_id, channel_id, by_user, claimed_at, message_ts, posted_at, video_done"
_UNFINISHED = "(message_ts IS NULL OR video_done = 0)"
_KEY = "team_id = ? AND kind = ? AND job_id = ?"
_TAKE_SQL = f"SELECT {_COLUMNS} FROM take_posts WHERE {_KEY}"
# App Home's showcase: the workspace's newest, through take_posts_latest (team_id, kind, posted_at).
LATEST_TAKES_SQL = (
    f"SELECT {_COLUMNS} FROM take_posts WHERE team_id = ? AND kind = ? AND posted_at IS NOT NULL "
    "ORDER BY posted_at DESC, message_ts DESC LIMIT ?"
)


class TakeQueries(StoreBase):
    async def claim_take_post(
        self, team_id: str, kind: str, job_id: str, channel_id: str, by_user: str, now: float, lease_seconds: float
    ) -> TakePost | None:
        """The claim to post `job_id` (as `kind`) for the one caller that gets it: a new claim, or one whose
        holder let its lease lapse without posting (who asked first stays named). None for everyone else."""
        async with self._engine.transaction() as db:
            inserted = await db.execute(
                "INSERT INTO take_posts (team_id, kind, job_id, channel_id, by_user, claimed_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                team_id,
                kind,
                job_id,
                channel_id,
                by_user,
                now,
            )
            if not inserted:
                inserted = await db.execute(
                    f"UPDATE take_posts SET claimed_at = ? WHERE team_id = ? AND kind = ? AND job_id = ? "
                    f"AND {_UNFINISHED} AND claimed_at < ?",
                    now,
                    team_id,
                    kind,
                    job_id,
                    now - lease_seconds,
                )
            if not inserted:
                return None
            row = await db.fetchrow(_TAKE_SQL, team_id, kind, job_id)
        assert row is not None
        return _take_from_row(row)

    async def take_posted(self, team_id: str, kind: str, job_id: str, message_ts: str, now: float) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                f"UPDATE take_posts SET message_ts = ?, posted_at = ? WHERE {_KEY}",
                message_ts,
                now,
                team_id,
                kind,
                job_id,
            )

    async def release_take(self, team_id: str, kind: str, job_id: str) -> None:
        """Let an unfinished claim go at once (Slack refused the post): the next star, click or resume retries."""
        async with self._engine.transaction() as db:
            await db.execute(f"UPDATE take_posts SET claimed_at = 0 WHERE {_KEY}", team_id, kind, job_id)

    async def take_video_done(self, team_id: str, kind: str, job_id: str) -> None:
        async with self._engine.transaction() as db:
            await db.execute(f"UPDATE take_posts SET video_done = 1 WHERE {_KEY}", team_id, kind, job_id)

    async def take_post(self, team_id: str, kind: str, job_id: str) -> TakePost | None:
        row = await self._db.fetchrow(_TAKE_SQL, team_id, kind, job_id)
        return None if row is None else _take_from_row(row)

    async def unposted_takes(self, before: float, limit: int) -> list[TakePost]:
        """Claims whose lease lapsed before `before` unfinished: what a crash left to do."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM take_posts WHERE {_UNFINISHED} AND claimed_at < ? ORDER BY claimed_at LIMIT ?",
            before,
            limit,
        )
        return [_take_from_row(row) for row in rows]

    async def latest_takes(self, team_id: str, kind: str, limit: int) -> list[TakePost]:
        """The workspace's newest posted takes of `kind`, newest first (App Home's showcase)."""
        rows = await self._db.fetch(LATEST_TAKES_SQL, team_id, kind, limit)
        return [_take_from_row(row) for row in rows]


def _take_from_row(r: Row) -> TakePost:
    return TakePost(
        team_id=str(r[0]),
        kind=str(r[1]),
        job_id=str(r[2]),
        channel_id=str(r[3]),
        by_user=str(r[4]),
        claimed_at=float(r[5]),
        message_ts=None if r[6] is None else str(r[6]),
        posted_at=None if r[7] is None else float(r[7]),
        video_done=bool(r[8]),
    )
