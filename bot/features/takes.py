"""Team practice (issue 28): a take posted again, once. A delivered take starred (⭐) or *Add to showcase*d
goes to VIDEOBOT_SHOWCASE_CHANNEL; a delivered private take is *Share*d by its requester in the channel it
was asked from.

Each post is claimed in the database before it goes out (storage/takes.py), one per job and kind, so stars
redelivered, removed and added again, more stars, more clicks, restarts and replicas post it once. The claim
is a lease: the post is recorded once Slack took it, and a claim whose holder crashed before that is taken
over once the lease lapses (by the next star or click, or by `resume`, which the poller runs every minute),
so a crash loses nothing.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from bot import messages
from bot.clients.slack import SlackCallError, SlackGateway
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.domain.settings import Settings
from storage.db import Store
from storage.takes import SHARE, SHOWCASE, TakePost

log = logging.getLogger("videobot.takes")

STAR_REACTIONS = frozenset({"star"})
# How many lapsed claims one `resume` finishes.
RESUME_BATCH = 20


class TakeOutcome(StrEnum):
    POSTED = "posted"
    ALREADY = "already"  # posted before, or another caller holds the claim right now
    IGNORED = "ignored"  # not ours to act on: no showcase, another emoji, not a job's message
    REFUSED = "refused"  # not this person's, or not finished: they were told why (a button)
    FAILED = "failed"  # Slack refused the post: the claim stays, to be finished by `resume`


def _reaction_name(reaction: str) -> str:
    return reaction.split("::", 1)[0].strip(":").lower()


class TakePoster:
    def __init__(self, store: Store, slack: SlackGateway, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._slack = slack
        self._clock = clock
        self._settings = settings

    @property
    def showcase_channel(self) -> str:
        return self._settings.showcase_channel

    async def star(
        self, *, reaction: str, channel_id: str, message_ts: str, user_id: str, bot_user_id: str | None
    ) -> TakeOutcome:
        """A reaction on a message: a ⭐ on a delivered take's root showcases it; anything else is ignored."""
        if not self.showcase_channel or _reaction_name(reaction) not in STAR_REACTIONS:
            return TakeOutcome.IGNORED
        if not (channel_id and message_ts and user_id) or user_id == bot_user_id:
            return TakeOutcome.IGNORED
        job = await self._store.job_by_root(channel_id, message_ts)
        if job is None or job.state is not JobState.DELIVERED or (job.private and user_id != job.user_id):
            return TakeOutcome.IGNORED
        return await self._showcase(job, user_id)

    async def showcase_button(
        self, *, channel_id: str, message_ts: str, user_id: str, response_url: str
    ) -> TakeOutcome:
        """*Add to showcase*: the same as a star, answered privately."""
        job = await self._store.job_by_root(channel_id, message_ts) if channel_id and message_ts else None
        if not self.showcase_channel:
            return await self._tell(channel_id, user_id, response_url, "no_showcase", TakeOutcome.IGNORED)
        if job is None or job.state is not JobState.DELIVERED:
            return await self._tell(channel_id, user_id, response_url, "unfinished", TakeOutcome.REFUSED)
        if job.private and user_id != job.user_id:
            return await self._tell(channel_id, user_id, response_url, "not_yours", TakeOutcome.REFUSED)
        outcome = await self._showcase(job, user_id)
        await self._answer(job, SHOWCASE, outcome, channel_id, user_id, response_url)
        return outcome

    async def share_button(self, *, channel_id: str, message_ts: str, user_id: str, response_url: str) -> TakeOutcome:
        """*Share in the channel* on a delivered private take: its requester's alone, once."""
        job = await self._store.job_by_root(channel_id, message_ts) if channel_id and message_ts else None
        if job is None or not job.private or job.state is not JobState.DELIVERED:
            return await self._tell(channel_id, user_id, response_url, "unfinished", TakeOutcome.REFUSED)
        if user_id != job.user_id:
            return await self._tell(channel_id, user_id, response_url, "not_yours", TakeOutcome.REFUSED)
        claim = await self._claim(SHARE, job, job.channel_id, user_id)
        outcome = TakeOutcome.ALREADY if claim is None else await self._post(claim, job)
        await self._answer(job, SHARE, outcome, channel_id, user_id, response_url)
        return outcome

    async def resume(self) -> int:
        """Finish the posts whose claim lapsed unposted (a crash, or Slack refused them): how many went out."""
        now = self._clock.now()
        posted = 0
        for lapsed in await self._store.unposted_takes(now - self._settings.lease_seconds, RESUME_BATCH):
            job = await self._store.get_job(lapsed.job_id)
            if job is None:
                continue
            claim = await self._claim(lapsed.kind, job, lapsed.channel_id, lapsed.by_user)
            if claim is not None and await self._post(claim, job) is TakeOutcome.POSTED:
                posted += 1
        return posted

    async def _showcase(self, job: Job, user_id: str) -> TakeOutcome:
        claim = await self._claim(SHOWCASE, job, self.showcase_channel, user_id)
        if claim is None:
            log.info("job=%s event=showcase_already by=%s", job.id, user_id)
            return TakeOutcome.ALREADY
        return await self._post(claim, job)

    async def _claim(self, kind: str, job: Job, channel: str, user_id: str) -> TakePost | None:
        now = self._clock.now()
        return await self._store.claim_take_post(kind, job.id, channel, user_id, now, self._settings.lease_seconds)

    async def _post(self, claim: TakePost, job: Job) -> TakeOutcome:
        if claim.kind == SHOWCASE:
            link = messages.message_link(await self._slack.workspace_url(), job.where, job.root_ts)
            message = messages.showcase_post(job, claim.by_user, link)
        else:
            message = messages.shared_post(job)
        try:
            ts = await self._slack.post_message(claim.channel_id, message, label=f"job={job.id} message={claim.kind}")
        except SlackCallError as exc:
            # Claimed and not recorded: the lease lapses and `resume` (or the next star) posts it.
            log.warning("job=%s event=%s_failed channel=%s error=%s", job.id, claim.kind, claim.channel_id, exc.error)
            return TakeOutcome.FAILED
        await self._store.take_posted(claim.kind, job.id, ts, self._clock.now())
        log.info("job=%s event=%s_posted channel=%s by=%s", job.id, claim.kind, claim.channel_id, claim.by_user)
        return TakeOutcome.POSTED

    async def _answer(
        self, job: Job, kind: str, outcome: TakeOutcome, channel_id: str, user_id: str, response_url: str
    ) -> None:
        posted = await self._store.take_post(kind, job.id)
        where = posted.channel_id if posted else (self.showcase_channel if kind == SHOWCASE else job.channel_id)
        link = None
        if posted is not None and posted.message_ts:
            link = messages.message_link(await self._slack.workspace_url(), posted.channel_id, posted.message_ts)
        what = {
            TakeOutcome.POSTED: "showcased" if kind == SHOWCASE else "shared",
            TakeOutcome.ALREADY: "already_showcased" if kind == SHOWCASE else "already_shared",
        }.get(outcome, "failed")
        message = messages.take_answer(what, channel=where, link=link if outcome is TakeOutcome.ALREADY else None)
        await self._slack.tell_privately(channel_id, user_id, message, response_url)

    async def _tell(
        self, channel_id: str, user_id: str, response_url: str, what: str, outcome: TakeOutcome
    ) -> TakeOutcome:
        await self._slack.tell_privately(channel_id, user_id, messages.take_answer(what), response_url)
        return outcome
