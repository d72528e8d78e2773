"""Team practice (issue 28): a take posted again, once. A delivered take starred (⭐) or *Add to showcase*d
goes to VIDEOBOT_SHOWCASE_CHANNEL; a delivered private take is *Share*d by its requester in the channel it
was asked from.

Each post is claimed in the database before it goes out (storage/takes.py), one per job and kind, so stars
redelivered, removed and added again, more stars, more clicks, restarts and replicas post it once. The claim
is a lease: the post is recorded once Slack took it, and a claim whose holder crashed before that is taken
over once the lease lapses (by the next star or click, or by `resume`, which the poller runs every minute),
and goes on from its last recorded step, so a crash loses nothing. The listener only claims (its durable
write, within Slack's 3 seconds); the post, and the video uploaded under it, go out off its path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from bot import messages
from bot.clients.media import MediaError, MediaFetcher
from bot.clients.slack import SlackCallError, SlackGateway
from bot.clients.slack_workspaces import WorkspaceRef, acting_for
from bot.domain.clock import Clock
from bot.domain.job import Job, JobState
from bot.domain.settings import Settings
from storage.db import Store
from storage.takes import SHARE, SHOWCASE, TakePost

log = logging.getLogger("videobot.takes")

STAR_REACTIONS = frozenset({"star"})
# How many lapsed claims one `resume` finishes.
RESUME_BATCH = 20
# How long a claim is its holder's: the post and the video's upload (up to 1 GB) fit well within it. A claim
# older than this and unfinished was left by a process that died: `resume` takes it over.
TAKE_LEASE_SECONDS = 600.0


class TakeOutcome(StrEnum):
    CLAIMED = "claimed"  # this caller holds the claim: the post goes out now, off the listener's path
    ALREADY = "already"  # posted before, or another caller holds the claim right now
    IGNORED = "ignored"  # not ours to act on: no showcase, another emoji, not a job's message
    REFUSED = "refused"  # not this person's, or not finished: they were told why (a button)


@dataclass(frozen=True)
class _Asker:
    """Who pressed the button, to be told how it went (a star is answered by the post itself)."""

    channel_id: str
    user_id: str
    response_url: str


def _reaction_name(reaction: str) -> str:
    return reaction.split("::", 1)[0].strip(":").lower()


class TakePoster:
    def __init__(
        self, store: Store, slack: SlackGateway, media: MediaFetcher, clock: Clock, settings: Settings
    ) -> None:
        self._store = store
        self._slack = slack
        self._media = media
        self._clock = clock
        self._settings = settings
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def showcase_channel(self) -> str:
        return self._settings.showcase_channel

    async def wait_idle(self) -> None:
        """Until the posts started are done (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def star(
        self,
        *,
        reaction: str,
        team_id: str,
        channel_id: str,
        message_ts: str,
        user_id: str,
        bot_user_id: str | None,
    ) -> TakeOutcome:
        """A reaction on a message: a ⭐ on a delivered take's root showcases it; anything else is ignored."""
        if not self.showcase_channel or _reaction_name(reaction) not in STAR_REACTIONS:
            return TakeOutcome.IGNORED
        if not (channel_id and message_ts and user_id) or user_id == bot_user_id:
            return TakeOutcome.IGNORED
        job = await self._store.job_by_root(team_id, channel_id, message_ts)
        if job is None or job.state is not JobState.DELIVERED or (job.private and user_id != job.user_id):
            return TakeOutcome.IGNORED
        return await self._claim_and_post(SHOWCASE, job, self.showcase_channel, user_id, None)

    async def showcase_button(
        self, *, team_id: str, channel_id: str, message_ts: str, user_id: str, response_url: str
    ) -> TakeOutcome:
        """*Add to showcase*: the same as a star, answered privately."""
        asker = _Asker(channel_id, user_id, response_url)
        found = channel_id and message_ts
        job = await self._store.job_by_root(team_id, channel_id, message_ts) if found else None
        if not self.showcase_channel:
            return await self._tell(asker, "no_showcase", TakeOutcome.IGNORED)
        if job is None or job.state is not JobState.DELIVERED:
            return await self._tell(asker, "unfinished", TakeOutcome.REFUSED)
        if job.private and user_id != job.user_id:
            return await self._tell(asker, "not_yours", TakeOutcome.REFUSED)
        return await self._claim_and_post(SHOWCASE, job, self.showcase_channel, user_id, asker)

    async def share_button(
        self, *, team_id: str, channel_id: str, message_ts: str, user_id: str, response_url: str
    ) -> TakeOutcome:
        """*Share in the channel* on a delivered private take: its requester's alone, once."""
        asker = _Asker(channel_id, user_id, response_url)
        found = channel_id and message_ts
        job = await self._store.job_by_root(team_id, channel_id, message_ts) if found else None
        if job is None or not job.private or job.state is not JobState.DELIVERED:
            return await self._tell(asker, "unfinished", TakeOutcome.REFUSED)
        if user_id != job.user_id:
            return await self._tell(asker, "not_yours", TakeOutcome.REFUSED)
        return await self._claim_and_post(SHARE, job, job.channel_id, user_id, asker)

    async def resume(self) -> int:
        """Finish the posts whose claim lapsed unfinished (a crash, or Slack refused them): how many it took up."""
        taken = 0
        for lapsed in await self._store.unposted_takes(self._clock.now() - TAKE_LEASE_SECONDS, RESUME_BATCH):
            job = await self._store.get_job(lapsed.job_id, team_id=lapsed.team_id)
            claim = None if job is None else await self._claim(lapsed.kind, job, lapsed.channel_id, lapsed.by_user)
            if job is not None and claim is not None:
                taken += 1
                # Off any request: its Slack calls are the job's workspace's (many workspaces, issue 25).
                with acting_for(WorkspaceRef(team_id=job.team_id, enterprise_id=job.enterprise_id)):
                    await self._finish(claim, job, None)
        return taken

    async def _claim_and_post(
        self, kind: str, job: Job, channel: str, user_id: str, asker: _Asker | None
    ) -> TakeOutcome:
        """Claim it now (the listener's durable write); post it off the listener's path."""
        claim = await self._claim(kind, job, channel, user_id)
        if claim is None:
            log.info("job=%s event=%s_already by=%s", job.id, kind, user_id)
            if asker is not None:
                await self._answer(asker, kind, job, "already")
            return TakeOutcome.ALREADY
        task = asyncio.get_running_loop().create_task(self._finish(claim, job, asker))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return TakeOutcome.CLAIMED

    async def _claim(self, kind: str, job: Job, channel: str, user_id: str) -> TakePost | None:
        now = self._clock.now()
        return await self._store.claim_take_post(job.team_id, kind, job.id, channel, user_id, now, TAKE_LEASE_SECONDS)

    async def _finish(self, claim: TakePost, job: Job, asker: _Asker | None) -> None:
        """The post, then the video under it, each recorded once done; never raises."""
        try:
            ts = claim.message_ts or await self._post(claim, job)
            if ts is None:
                if asker is not None:
                    await self._answer(asker, claim.kind, job, "failed")
                return
            if asker is not None:
                await self._answer(asker, claim.kind, job, "showcased" if claim.kind == SHOWCASE else "shared")
            if not claim.video_done:
                await self._upload_video(claim, job, ts)
        except Exception as exc:  # the claim stays: `resume` finishes it once the lease lapses
            log.warning("job=%s event=%s_crashed error=%s", job.id, claim.kind, type(exc).__name__)

    async def _post(self, claim: TakePost, job: Job) -> str | None:
        if claim.kind == SHOWCASE:
            link = messages.message_link(await self._slack.workspace_url(), job.where, job.root_ts)
            message = messages.showcase_post(job, claim.by_user, link)
        else:
            message = messages.shared_post(job)
        try:
            ts = await self._slack.post_message(claim.channel_id, message, label=f"job={job.id} message={claim.kind}")
        except SlackCallError as exc:
            # Nothing was posted: the claim is let go, and `resume` (or the next star or click) tries again.
            log.warning("job=%s event=%s_failed channel=%s error=%s", job.id, claim.kind, claim.channel_id, exc.error)
            await self._store.release_take(job.team_id, claim.kind, job.id)
            return None
        await self._store.take_posted(job.team_id, claim.kind, job.id, ts, self._clock.now())
        log.info("job=%s event=%s_posted channel=%s by=%s", job.id, claim.kind, claim.channel_id, claim.by_user)
        return ts

    async def _upload_video(self, claim: TakePost, job: Job, ts: str) -> None:
        """The video itself under the post, for those who can't open its thread (or Perf's link, once it
        lapses). Given up on, not retried, when it can't be fetched or Slack won't take it: the post links it."""
        if job.video_url and not job.delivered_as_link:
            try:
                async with self._media.open(job.video_url) as download:
                    upload_url, file_id = await self._slack.start_upload(messages.video_filename(job), download.size)
                    await self._slack.send_upload(upload_url, download.chunks, download.size)
                await self._slack.complete_upload(file_id, messages.upload_title(job), claim.channel_id, ts)
            except (MediaError, SlackCallError) as exc:
                log.warning("job=%s event=%s_video_not_uploaded error=%s", job.id, claim.kind, exc)
        await self._store.take_video_done(job.team_id, claim.kind, job.id)

    async def _answer(self, asker: _Asker, kind: str, job: Job, how: str) -> None:
        posted = await self._store.take_post(job.team_id, kind, job.id)
        where = posted.channel_id if posted else (self.showcase_channel if kind == SHOWCASE else job.channel_id)
        link = None
        if how == "already" and posted is not None and posted.message_ts:
            link = messages.message_link(await self._slack.workspace_url(), posted.channel_id, posted.message_ts)
        what = f"already_{'showcased' if kind == SHOWCASE else 'shared'}" if how == "already" else how
        await self._slack.tell_privately(
            asker.channel_id, asker.user_id, messages.take_answer(what, channel=where, link=link), asker.response_url
        )

    async def _tell(self, asker: _Asker, what: str, outcome: TakeOutcome) -> TakeOutcome:
        await self._slack.tell_privately(
            asker.channel_id, asker.user_id, messages.take_answer(what), asker.response_url
        )
        return outcome
