"""Recall: `/video show <job id>` posts a finished job's result again, in the channel the command came
from; `/video history [words]` lists the person's last jobs, with those words, privately."""

from __future__ import annotations

import logging

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.job import JobState
from bot.domain.recall import HISTORY_LIMIT, MAX_SEARCH_WORDS, ShowOutcome, search_order
from bot.features.people import People
from storage.db import Store

log = logging.getLogger("videobot.recall")

# Ended without a video: nothing to show.
_NO_VIDEO_STATES = frozenset({JobState.FAILED, JobState.UNKNOWN, JobState.CANCELLED})


class RecallService:
    def __init__(self, store: Store, people: People, slack: SlackGateway) -> None:
        self._store = store
        self._people = people
        self._slack = slack

    async def show(self, team_id: str, job_id: str, user_id: str) -> messages.Message:
        """The job's result for the channel (an in-channel answer), or a private answer saying why not. A job
        of another workspace is not found, as an unknown id."""
        if not job_id:
            return messages.show_refused(ShowOutcome.NO_ID, job_id)
        job = await self._store.get_job(job_id, team_id=team_id)
        if job is None:
            return messages.show_refused(ShowOutcome.NOT_FOUND, job_id)
        if job.user_id != user_id:
            try:
                person = await self._people.get(user_id, team_id=team_id)
            except SlackCallError as exc:
                log.warning("job=%s event=show_unchecked user=%s error=%s", job.id, user_id, exc.error)
                return messages.show_refused(ShowOutcome.UNCHECKED, job_id)
            if not person.runs_the_workspace:
                log.info("job=%s event=show_refused user=%s", job.id, user_id)
                return messages.show_refused(ShowOutcome.NOT_YOURS, job_id)
        if job.state in _NO_VIDEO_STATES:
            return messages.show_refused(ShowOutcome.NO_VIDEO, job_id, job)
        if job.state is not JobState.DELIVERED:
            return messages.show_refused(ShowOutcome.UNFINISHED, job_id, job)
        link = messages.message_link(await self._slack.workspace_url(), job.where, job.root_ts)
        log.info("job=%s event=shown by=%s", job.id, user_id)
        return messages.show_message(job, link, user_id)

    async def history(self, team_id: str, user_id: str, words: tuple[str, ...]) -> messages.Message:
        if len(words) > MAX_SEARCH_WORDS:
            return messages.history_too_many_words()
        jobs = await self._store.history(team_id, user_id, search_order(list(words)), HISTORY_LIMIT)
        base = await self._slack.workspace_url()
        links = {job.id: link for job in jobs if (link := messages.message_link(base, job.where, job.root_ts))}
        log.info("event=history user=%s words=%d found=%d", user_id, len(words), len(jobs))
        return messages.history_message(jobs, words, links)
