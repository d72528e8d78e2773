"""`videobot export`'s memory and speed as the history grows: python -m bench.export [--engine postgresql]

The same export (CSV, into a sink that keeps nothing) over 2k, 20k and 100k stored jobs, with tracemalloc's
peak, against what holding every row at once would take, and the rate. The peak should stay flat: rows
are read 1,000 at a time by keyset pagination and written as they come. PostgreSQL: the server named by
VIDEOBOT_TEST_POSTGRES_URL, as for the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import tracemalloc
from pathlib import Path

from bot.runtime import ops
from storage.db import Store
from tests.fakes.databases import fresh_database
from tests.fakes.jobs import seed_delivered

SIZES = (2_000, 20_000, 100_000)


class _Sink(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


async def _measure(store: Store) -> tuple[int, float, int]:
    """(export peak bytes, seconds untraced, every row in one list: peak bytes)."""
    tracemalloc.start()
    await ops.export(store, 0.0, "csv", _Sink())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    await ops.export(store, 0.0, "csv", _Sink())
    seconds = time.perf_counter() - started
    tracemalloc.start()
    rows = [row async for batch in store.export_batches(0.0) for row in batch]
    _, held = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del rows
    return peak, seconds, held


async def run(engine: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(engine, Path(tmp)) as url:
            store = await Store.open(url)
            try:
                stored, baseline = 0, 0
                print(f"engine {engine}: jobs, export peak (x the {SIZES[0]:,} baseline), all rows held, rows/s")
                for size in SIZES:
                    await seed_delivered(store, size - stored, 1_000_000.0 + stored)
                    stored = size
                    peak, seconds, held = await _measure(store)
                    baseline = baseline or peak
                    print(
                        f"{size:>9,}  {peak / 1024:>7,.0f} KiB ({peak / baseline:.2f}x)"
                        f"  {held / 1024:>8,.0f} KiB  {size / seconds:>8,.0f}"
                    )
            finally:
                await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    asyncio.run(run(parser.parse_args().engine))


if __name__ == "__main__":
    main()
