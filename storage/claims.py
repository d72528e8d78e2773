"""Posts that go out once ever, whatever the replicas and restarts: a channel's daily report, a budget's 80%
notice. A post is claimed by inserting its key before it is posted; the one caller whose insert changed a
row posts, and then records the message it posted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.engine import Engine

# (column, value) pairs: the claim's primary key in its table.
ClaimKey = Sequence[tuple[str, Any]]


async def claim_once(engine: Engine, table: str, key: ClaimKey, now: float) -> bool:
    """True for the one caller that may post what `key` names; every later call gets False."""
    columns = ", ".join(column for column, _ in key)
    places = ", ".join("?" for _ in key)
    async with engine.transaction() as db:
        inserted = await db.execute(
            f"INSERT INTO {table} ({columns}, claimed_at) VALUES ({places}, ?) ON CONFLICT DO NOTHING",
            *(value for _, value in key),
            now,
        )
    return inserted == 1


async def record_post(engine: Engine, table: str, key: ClaimKey, message_ts: str) -> None:
    """The message the claimed post became."""
    where = " AND ".join(f"{column} = ?" for column, _ in key)
    async with engine.transaction() as db:
        await db.execute(f"UPDATE {table} SET message_ts = ? WHERE {where}", message_ts, *(value for _, value in key))
