"""Running a job's prompt again, from a reaction on its root message or its "Run again" button, and a
draft's full version, from its "Make the full version" button.

Slack redelivers events and people remove and re-add reactions, so each rerun is keyed by what asked
for it: one person's reaction on one job, or one button click (its action_ts). The key is stored with
the new job in one transaction, so a key starts at most one job, across restarts too.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain import drafts
from bot.domain.clock import Clock
from bot.domain.quotas import ChannelNotAllowed, QuotaExceeded
from bot.domain.request import CommandError, request_of, revalidate
from bot.domain.settings import Settings
from bot.features.people import People
from bot.jobs.service import JobService
from storage.db import Store

log = logging.getLogger("videobot.reruns")


class RerunOutcome(StrEnum):
    STARTED = "started"
    ALREADY_DONE = "already_done"  # this trigger already started a job
    IGNORED = "ignored"  # not ours to act on: another emoji, another message, a bot
    REFUSED = "refused"  # the person was told privately why


def reaction_name(reaction: str) -> str:
    # A reaction with a skin tone arrives as "thumbsup::skin-tone-2".
    return reaction.split("::", 1)[0].strip(":").lower()


class RerunService:
    def __init__(
        self, store: Store, jobs: JobService, slack: SlackGateway, people: People, settings: Settings, clock: Clock
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._store = store
        self._jobs = jobs
        self._slack = slack
        self._people = people
        self._emoji = frozenset(settings.rerun_emoji)

    async def from_reaction(
        self,
        *,
        reaction: str,
        team_id: str,
        channel_id: str,
        message_ts: str,
        user_id: str,
        bot_user_id: str | None,
    ) -> RerunOutcome:
        if reaction_name(reaction) not in self._emoji:
            return RerunOutcome.IGNORED
        return await self._rerun(
            team_id=team_id,
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=user_id,
            bot_user_id=bot_user_id,
            trigger_kind="reaction",
            trigger_detail="",
            response_url="",
        )

    async def from_button(
        self,
        *,
        team_id: str,
        channel_id: str,
        message_ts: str,
        user_id: str,
        action_ts: str,
        response_url: str,
        bot_user_id: str | None,
        full_version: bool = False,
    ) -> RerunOutcome:
        """*Run again*, or with `full_version` a draft's *Make the full version* with the settings asked for:
        once per click (its action_ts)."""
        if not action_ts:
            return RerunOutcome.IGNORED
        return await self._rerun(
            team_id=team_id,
            channel_id=channel_id,
            message_ts=message_ts,
            user_id=user_id,
            bot_user_id=bot_user_id,
            trigger_kind="full" if full_version else "button",
            trigger_detail=action_ts,
            response_url=response_url,
            full_version=full_version,
        )

    async def _rerun(
        self,
        *,
        team_id: str,
        channel_id: str,
        message_ts: str,
        user_id: str,
        bot_user_id: str | None,
        trigger_kind: str,
        trigger_detail: str,
        response_url: str,
        full_version: bool = False,
    ) -> RerunOutcome:
        if not (channel_id and message_ts and user_id) or user_id == bot_user_id:
            return RerunOutcome.IGNORED
        source = await self._store.job_by_root(team_id, channel_id, message_ts)
        if source is None or (full_version and source.full_settings is None):
            return RerunOutcome.IGNORED
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            # Refuse rather than guess: a bot must never be able to spend money by reacting.
            log.warning("job=%s event=rerun_unchecked user=%s error=%s", source.id, user_id, exc.error)
            await self._slack.tell_privately(channel_id, user_id, messages.rerun_unavailable(), response_url)
            return RerunOutcome.REFUSED
        if not person.is_person:
            log.info("job=%s event=rerun_ignored_bot user=%s", source.id, user_id)
            return RerunOutcome.IGNORED

        request = drafts.full_request(source) if full_version else revalidate(request_of(source))
        if isinstance(request, CommandError):
            log.info("job=%s event=rerun_refused code=%s user=%s", source.id, request.code, user_id)
            refusal = messages.rerun_refused(request, full_version=full_version)
            await self._slack.tell_privately(channel_id, user_id, refusal, response_url)
            return RerunOutcome.REFUSED

        trigger = f"{trigger_kind}:{source.id}:{user_id}" + (f":{trigger_detail}" if trigger_detail else "")
        try:
            job = await self._jobs.start_rerun(
                source, request, user_id=user_id, trigger=trigger, response_url=response_url, full_version=full_version
            )
        except (ChannelNotAllowed, QuotaExceeded) as exc:
            refusal = messages.admission_refused(exc, self._clock.now(), self._settings.timezone)
            await self._slack.tell_privately(channel_id, user_id, refusal, response_url)
            return RerunOutcome.REFUSED
        if job is None:
            log.info("job=%s event=rerun_already_done trigger=%s", source.id, trigger_kind)
            return RerunOutcome.ALREADY_DONE
        return RerunOutcome.STARTED
