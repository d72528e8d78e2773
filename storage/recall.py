"""Recall: a person's jobs whose prompt has some words (`/video history`), through the words' index."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.job import Job
from bot.domain.recall import MAX_CANDIDATES, prompt_words
from storage.base import StoreBase
from storage.engine import Statement
from storage.home import RECENT_JOBS_SQL
from storage.rows import job_from_row
from storage.sql import insert_rows

# The candidates are the person's newest jobs holding the first word (a range of job_words' key, newest
# first, at most MAX_CANDIDATES); each other word is one probe of the same key. So a search reads a
# bounded slice of the index, never the person's whole history.
_CANDIDATES_SQL = (
    "SELECT w.job_id, w.created_at FROM job_words AS w WHERE w.team_id = ? AND w.user_id = ? AND w.word = ?"
    f" ORDER BY w.created_at DESC LIMIT {MAX_CANDIDATES}"
)
_ALSO_SQL = (
    " AND EXISTS (SELECT 1 FROM job_words AS o WHERE o.team_id = ? AND o.user_id = ? AND o.word = ?"
    " AND o.created_at = c.created_at AND o.job_id = c.job_id)"
)


def history_statement(team_id: str, user_id: str, words: Sequence[str], limit: int) -> Statement:
    """The person's newest `limit` jobs in the workspace whose prompt has every one of `words` (all of their
    jobs without)."""
    if not words:
        return RECENT_JOBS_SQL, (team_id, user_id, limit)
    first, *others = words
    # Matched among the candidates' index entries first, so only the `limit` jobs found are read from jobs.
    matched = f"SELECT c.job_id, c.created_at FROM ({_CANDIDATES_SQL}) AS c WHERE 1 = 1"
    params: list[object] = [team_id, user_id, first]
    for word in others:
        matched += _ALSO_SQL
        params += [team_id, user_id, word]
    matched += " ORDER BY c.created_at DESC, c.job_id DESC LIMIT ?"
    sql = f"SELECT jobs.* FROM ({matched}) AS m JOIN jobs ON jobs.id = m.job_id"
    return f"{sql} ORDER BY m.created_at DESC, jobs.arrival DESC", (*params, limit)


class RecallQueries(StoreBase):
    async def index_words(self, job: Job) -> None:
        """Store the words of the job's prompt for history searches; writing them again changes nothing."""
        rows = [(job.team_id, job.user_id, word, job.created_at, job.id) for word in prompt_words(job.prompt)]
        columns = ("team_id", "user_id", "word", "created_at", "job_id")
        async with self._engine.transaction() as db:
            await db.batch(*insert_rows("job_words", columns, rows, " ON CONFLICT DO NOTHING"), commit=True)

    async def history(self, team_id: str, user_id: str, words: Sequence[str], limit: int) -> list[Job]:
        sql, params = history_statement(team_id, user_id, words, limit)
        return [job_from_row(row) for row in await self._db.fetch(sql, *params)]
