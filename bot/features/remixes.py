"""Remix: a job's message opens the form prefilled with its prompt and settings; the submission starts a
new job for whoever remixes it, in the original's conversation, linked to it.

Who may remix: a click reaches the bot only from someone who sees the message, and the message is
found by the conversation and ts of the click (not by the button's value). A private job's message is
in its requester's DM, so only they can click; the submission checks that again, since the form's
metadata names the job. A public job's message is in its channel: whoever sees it may remix it. The bot
does not ask Slack who is in the channel (that needs `channels:read` and a call per click), since only
people who see the message can click it.

A submission starts one job however often Slack delivers it and across restarts: it is keyed by the
view's id (`remix:<view id>`), stored with the job in one transaction under job_triggers' unique key,
before Slack is answered. A view that was refused (a field error, a quota) stored nothing, so sending
it again once fixed still starts its job.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.job import Job
from bot.domain.request import VideoRequest
from bot.jobs.service import JobService
from storage.db import Store

log = logging.getLogger("videobot.remixes")


class RemixOutcome(StrEnum):
    OPENED = "opened"  # the form is open
    STARTED = "started"
    ALREADY_DONE = "already_done"  # this view already started its job
    IGNORED = "ignored"  # not a job's message
    GONE = "gone"  # the original is no longer stored
    NOT_YOURS = "not_yours"  # someone else's private job
    UNAVAILABLE = "unavailable"  # Slack did not open the form


class RemixService:
    def __init__(self, store: Store, jobs: JobService, slack: SlackGateway) -> None:
        self._store = store
        self._jobs = jobs
        self._slack = slack

    async def open_form(
        self, *, team_id: str, channel_id: str, message_ts: str, user_id: str, trigger_id: str
    ) -> RemixOutcome:
        """The Remix button: the form, prefilled with the clicked job's prompt and settings."""
        if not (channel_id and message_ts and user_id):
            return RemixOutcome.IGNORED
        source = await self._store.job_by_root(team_id, channel_id, message_ts)
        if source is None:
            return RemixOutcome.IGNORED
        if not _may_remix(source, user_id):
            log.info("job=%s event=remix_refused user=%s", source.id, user_id)
            return RemixOutcome.NOT_YOURS
        try:
            await self._slack.open_view(trigger_id, messages.remix_form(source))
        except SlackCallError as exc:
            log.warning("job=%s event=remix_form_not_opened error=%s", source.id, exc.error)
            return RemixOutcome.UNAVAILABLE
        log.info("job=%s event=remix_form_opened user=%s", source.id, user_id)
        return RemixOutcome.OPENED

    async def submit(
        self, remix_of: str, request: VideoRequest, *, team_id: str, user_id: str, view_id: str
    ) -> RemixOutcome:
        """The remix form's submission. Raises ChannelNotAllowed or QuotaExceeded, having stored nothing.
        A job of another workspace is GONE, as an unknown one."""
        source = await self._store.get_job(remix_of, team_id=team_id)
        if source is None:
            return RemixOutcome.GONE
        if not _may_remix(source, user_id):
            log.info("job=%s event=remix_refused user=%s", source.id, user_id)
            return RemixOutcome.NOT_YOURS
        trigger = f"remix:{view_id}" if view_id else f"remix:{source.id}:{user_id}"
        job = await self._jobs.start_rerun(source, request, user_id=user_id, trigger=trigger, remix=True)
        if job is None:
            log.info("job=%s event=remix_already_done user=%s", source.id, user_id)
            return RemixOutcome.ALREADY_DONE
        return RemixOutcome.STARTED


def _may_remix(source: Job, user_id: str) -> bool:
    """A private job is seen by its requester alone; a public one by whoever sees its channel (see above)."""
    return not source.private or source.user_id == user_id
