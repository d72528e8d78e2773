"""A take posted again (issue 28): in the showcase channel, or a private take shared in its channel, and what
the person who starred or shared it is told."""

from __future__ import annotations

from typing import Any

from bot.domain.job import Job
from bot.messages._i18n import N_, _
from bot.messages._phrases import prompt_sent, settings_line
from bot.messages._text import (
    MAX_TEXT,
    Message,
    channel_link,
    clip,
    context_block,
    escape,
    linked,
    mention,
    mrkdwn,
    private_answer,
)


def _watch(job: Job, thread_link: str | None, *, thread_visible: bool) -> str:
    """Where to watch it: the video's own link when it has one, and its thread when others can open it."""
    links = []
    if job.video_url:
        links.append(linked(escape(job.video_url), _("▶ the video")))
    if thread_link and thread_visible:
        links.append(linked(escape(thread_link), _("its thread")))
    return " · ".join(links) if links else _("the video is in job {job_id}'s thread", job_id=escape(job.id))


def showcase_post(job: Job, starred_by: str, thread_link: str | None) -> Message:
    """The take in the showcase channel: the video, the prompt and settings, who asked, who starred it."""
    head = _("⭐ *From the showcase* · by {who} — ", who=mention(job.user_id))
    headline = head + prompt_sent(job, MAX_TEXT - len(head) - 2)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(headline)},
        context_block(escape(settings_line(job))),
        {"type": "section", "text": mrkdwn(_watch(job, thread_link, thread_visible=not job.private))},
        context_block(
            _("Starred by {who}", who=mention(starred_by))
            if job.private
            else _("Starred by {who} in {channel}", who=mention(starred_by), channel=channel_link(job.channel_id))
        ),
    ]
    fallback = clip(
        _("⭐ From the showcase · by {who} — ", who=mention(job.user_id)) + prompt_sent(job, 300),
        MAX_TEXT,
        sent=True,
    )
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": True}


def shared_post(job: Job) -> Message:
    """A private take shared by its requester in the channel it was asked from."""
    head = _("🎬 Shared by {who} — ", who=mention(job.user_id))
    headline = head + prompt_sent(job, MAX_TEXT - len(head) - 2)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(headline)},
        context_block(escape(settings_line(job))),
        {"type": "section", "text": mrkdwn(_watch(job, None, thread_visible=False))},
        context_block(_("Made privately with `/video … --private`, then shared here by the person who asked for it.")),
    ]
    fallback = clip(head + prompt_sent(job, 300), MAX_TEXT, sent=True)
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": True}


_TAKE_ANSWERS = {
    "showcased": N_("⭐ Added to the showcase in {where}."),
    "already_showcased": N_("⭐ This take is already in the showcase in {where}{there}."),
    "shared": N_("✅ Shared in {where}."),
    "already_shared": N_("This take is already shared in {where}{there}."),
    "not_yours": N_("Only the person who asked for a private video can share it or add it to the showcase."),
    "unfinished": N_("This take isn't finished yet: once its video is here, it can be shown to others."),
    "no_showcase": N_("There is no showcase in this workspace (an operator sets VIDEOBOT_SHOWCASE_CHANNEL)."),
    "failed": N_("Slack didn't take the post just now. Nothing is lost: I'll try again within a minute or two."),
}


def take_answer(what: str, *, channel: str = "", link: str | None = None) -> Message:
    """What the person who pressed *Add to showcase* or *Share* is told, privately."""
    where = channel_link(channel) if channel else _("the channel")
    there = " (" + linked(escape(link), _("see it")) + ")" if link else ""
    text = _(
        _TAKE_ANSWERS[what],
        where=where,
        there=there,
    )
    return private_answer(text + there if what in ("showcased", "shared") else text)
