"""A `Job` as a row of the jobs table, and back: the one place that knows how each field is stored.

The columns are the dataclass's fields, so a field added to `Job` (with its migration) is read and
written everywhere without a list to keep in step here.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from bot.domain.job import Job, JobState
from storage.engine import Row

JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Job))
# `arrival` is numbered at admission, under its lock, not taken from the Job being stored.
INSERTED_COLUMNS = tuple(c for c in JOB_COLUMNS if c != "arrival")
_BOOL_COLUMNS = frozenset(f.name for f in dataclasses.fields(Job) if f.type in ("bool", bool))


def to_db(column: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, JobState):
        return value.value
    return value


def job_from_row(row: Row) -> Job:
    values: dict[str, Any] = {}
    for column in JOB_COLUMNS:
        value = row[column]
        if column == "duration_seconds":
            value = Decimal(value)
        elif column == "state":
            value = JobState(value)
        elif column in _BOOL_COLUMNS:
            value = bool(value)
        values[column] = value
    return Job(**values)
