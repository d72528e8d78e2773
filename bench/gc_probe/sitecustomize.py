"""Loaded by the bot when bench/ack_bursts.py puts this directory on its PYTHONPATH: each collection of
generation 1 or 2 is one line in VIDEOBOT_BENCH_GC_LOG (wall clock at its end, generation, pause in ms).
Nothing in the bot knows of it."""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

_LOG = os.environ.get("VIDEOBOT_BENCH_GC_LOG") if "videobot" in sys.argv[0] else None
_started = [0.0]


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    generation = info["generation"]
    if generation >= 1 and _LOG:
        pause_ms = (time.perf_counter() - _started[0]) * 1000
        with open(_LOG, "a") as log:
            log.write(f"{time.time():.4f} {generation} {pause_ms:.2f}\n")


if _LOG:
    gc.callbacks.append(_on_collection)
