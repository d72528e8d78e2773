"""`videobot export`: one row per job for finance, streamed from the database in batches along an index."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.job import JobState
from bot.runtime import ops
from storage.db import Store
from tests.fakes.jobs import seed_delivered, stored_job
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment
from tests.fakes.slack import FakeSlack
from tests.test_ops import videobot

DAY = 86_400.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


class Sink(io.TextIOBase):
    """A stdout that keeps nothing: what the export holds is all the memory measured."""

    def __init__(self) -> None:
        self.characters = 0

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)


async def test_export_writes_csv_and_json_of_the_jobs_since_then(
    fake_slack: FakeSlack, fake_perf: FakePerf, database_url: str, tmp_path: Path, store: Store
) -> None:
    now = time.time()
    old = stored_job(created_at=now - 40 * DAY, model="pika")
    recent = stored_job(
        created_at=now - 2 * DAY,
        channel_id="C0MARKET",
        user_id="UBOB0002",
        model="veo-3",
        resolution="720p",
        estimated_cost_micros=2_800_000,
        perf_cost_micros=2_450_000,
        perf_job_id="job_1",
        state=JobState.DELIVERED,
    )
    waiting = stored_job(created_at=now - 60, estimated_cost_micros=134_000, state=JobState.AWAITING_APPROVAL)
    elsewhere = stored_job(created_at=now - 30, team_id="T0002", channel_id="C0MARKET")  # another workspace's
    for job in (old, recent, waiting, elsewhere):
        await store.insert_job(job)
    env = bot_environment(fake_slack, fake_perf, database_url)

    code, out, err = await videobot(env, tmp_path, "export", "--since", "30d")
    assert code == 0, err
    assert "exported 3 jobs" in err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == list(ops.EXPORT_FIELDS)
    assert [row[0] for row in rows[1:]] == [recent.id, waiting.id, elsewhere.id]
    assert rows[1][2:] == ["C0MARKET", "UBOB0002", "veo-3", "4", "720p", "delivered", "2.80", "2.45", "T0001"]
    assert rows[1][1].endswith("Z") and rows[1][1][:4].isdigit()
    assert rows[2][7:] == ["awaiting_approval", "0.134", "", "T0001"], "a cost Perf never reported is empty"
    assert rows[3][2] == "C0MARKET" and rows[3][-1] == "T0002"  # the same channel id: told apart

    code, out, err = await videobot(env, tmp_path, "export", "--workspace", "T0002")
    assert code == 0 and "exported 1 jobs" in err
    assert [row[0] for row in list(csv.reader(io.StringIO(out)))[1:]] == [elsewhere.id]
    code, out, err = await videobot(env, tmp_path, "jobs", "--workspace", "T0002", "--channel", "C0MARKET")
    assert code == 0, err
    assert elsewhere.id in out and recent.id not in out  # the same channel id in workspace T0001: not listed

    target = tmp_path / "jobs.json"
    code, out, err = await videobot(env, tmp_path, "export", "--format", "json", "--output", str(target))
    assert code == 0 and out == "" and f"exported 4 jobs to {target}" in err
    items = json.loads(target.read_text())
    assert [item["job_id"] for item in items] == [old.id, recent.id, waiting.id, elsewhere.id]
    assert items[1]["estimated_cost_usd"] == 2.8 and items[1]["charged_cost_usd"] == 2.45
    assert items[2]["charged_cost_usd"] is None and items[1]["duration_seconds"] == 4

    code, _, err = await videobot(env, tmp_path, "export", "--since", "a month")
    assert code == 1 and "--since takes a number and a unit" in err and "Traceback" not in err
    code, _, err = await videobot(env, tmp_path, "export", "--output", str(tmp_path / "no" / "such" / "dir.csv"))
    assert code == 1 and "cannot write" in err and "Traceback" not in err


async def test_batches_never_skip_or_repeat_jobs_stored_in_the_same_instant(store: Store) -> None:
    # Seven jobs share one created_at: batch boundaries fall among them, and arrival orders them.
    await seed_delivered(store, 7, 1_000.0, step=0.0)
    await seed_delivered(store, 5, 2_000.0)
    batches = [batch async for batch in store.export_batches(None, batch_rows=3)]
    assert [len(batch) for batch in batches] == [3, 3, 3, 3]
    ids = [row.job_id for batch in batches for row in batch]
    assert len(set(ids)) == 12
    assert [
        row.job_id for batch in [b async for b in store.export_batches(2_000.0, batch_rows=3)] for row in batch
    ] == ids[7:]


async def _export_peak(store: Store, since: float) -> tuple[int, int]:
    sink = Sink()
    tracemalloc.start()
    try:
        written = await ops.export(store, since, "csv", sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.characters > written * 60
    return written, peak


async def test_a_tenfold_export_needs_no_more_memory(store: Store) -> None:
    """2k jobs then 20k: the peak is one batch either way (CSV writes through to the sink)."""
    await seed_delivered(store, 2_000, 1_000_000.0)
    small, small_peak = await _export_peak(store, 0.0)
    await seed_delivered(store, 18_000, 2_000_000.0)
    large, large_peak = await _export_peak(store, 0.0)
    assert (small, large) == (2_000, 20_000)
    # A list of the rows would hold ~10x more at 20k; one batch at a time holds about the same.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
