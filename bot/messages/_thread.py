"""A job's thread: the root message with its buttons, the progress message, the upload, and what the person
is told privately when the thread can't be started or a rerun can't run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.domain import drafts
from bot.domain.defaults import Skipped
from bot.domain.job import TERMINAL_STATES, Job, JobState
from bot.domain.progress import progress_shown
from bot.domain.request import CommandError, Take
from bot.messages._i18n import N_, _, _n, percent
from bot.messages._phrases import (
    approval_ending,
    command_error,
    emoji,
    place_phrase,
    prompt_sent,
    settings_line,
    skipped_lines,
    status_line,
    taken_seconds,
)
from bot.messages._text import (
    MAX_TEXT,
    Message,
    channel_link,
    clip,
    escape,
    mention,
    mrkdwn,
    private_answer,
    seconds_text,
    usd,
)

RERUN_ACTION_ID = "rerun"
FULL_VERSION_ACTION_ID = "full_version"
REMIX_ACTION_ID = "remix"
CANCEL_ACTION_ID = "cancel"
DETAILS_ACTION_ID = "details"
SHOWCASE_ACTION_ID = "showcase"
SHARE_ACTION_ID = "share"

_PROGRESS_CELLS = 10


def root_message(job: Job, *, rerun_emoji: str = "repeat", showcase: bool = False) -> Message:
    """`showcase`: the workspace has a showcase channel, so a delivered take offers *Add to showcase*."""
    who = _("🎬 Video for {who} — ", who=mention(job.user_id))
    headline = who + prompt_sent(job, MAX_TEXT - len(who) - 2)
    fallback = clip(f"{who}{prompt_sent(job, 300)} · {status_line(job)}", MAX_TEXT, sent=True)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(headline)}]
    if job.rerun_of is not None:
        blocks.append({"type": "context", "elements": [mrkdwn(_rerun_line(job))]})
    if job.full_settings is not None:
        blocks.append({"type": "context", "elements": [mrkdwn(_draft_line(job))]})
    if job.compared:
        blocks.append({"type": "context", "elements": [mrkdwn(comparison_line(job))]})
    blocks += [
        {"type": "context", "elements": [mrkdwn(escape(settings_line(job)))]},
        {"type": "context", "elements": [mrkdwn(status_line(job))]},
        {"type": "actions", "elements": _job_buttons(job, showcase=showcase)},
        {"type": "context", "elements": [mrkdwn(_reactions_line(job, rerun_emoji, showcase=showcase))]},
    ]
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def shareable(job: Job) -> bool:
    """A delivered private take, asked for from a channel it can be shared in."""
    return job.private and job.state == JobState.DELIVERED and job.channel_id[:1] in ("C", "G")


def _reactions_line(job: Job, rerun_emoji: str, *, showcase: bool) -> str:
    if showcase and job.state == JobState.DELIVERED:
        line = _(
            "React with {emoji} to run this prompt again, with ⭐ to add it to the showcase", emoji=emoji(rerun_emoji)
        )
    else:
        line = _("React with {emoji} to run this prompt again", emoji=emoji(rerun_emoji))
    if shareable(job):
        channel = channel_link(job.channel_id)
        line += _(". *Share* posts it in {channel} with your name", channel=channel)
    return line


def _job_buttons(job: Job, *, showcase: bool = False) -> list[dict[str, Any]]:
    def button(action_id: str, label: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": job.id,
        }

    buttons = [button(RERUN_ACTION_ID, _("🔁 Run again")), button(REMIX_ACTION_ID, _("🎛 Remix"))]
    if job.full_settings is not None and job.state == JobState.DELIVERED:
        full = button(FULL_VERSION_ACTION_ID, _("⏩ Make the full version"))
        full["style"] = "primary"
        buttons.insert(0, full)
    if showcase and job.state == JobState.DELIVERED:
        buttons.append(button(SHOWCASE_ACTION_ID, _("⭐ Add to showcase")))
    if shareable(job):
        share = button(SHARE_ACTION_ID, _("📣 Share in the channel"))
        share["style"] = "primary"
        buttons.append(share)
    if job.state not in TERMINAL_STATES:
        cancel = button(CANCEL_ACTION_ID, _("Cancel"))
        cancel["style"] = "danger"
        cancel["confirm"] = {
            "title": {"type": "plain_text", "text": _("Cancel this video?")},
            "text": {
                "type": "plain_text",
                "text": _("It has not been sent to Perf: the request for approval is withdrawn.")
                if job.state == JobState.AWAITING_APPROVAL
                else _("videobot stops tracking it. Perf has no cancel, so it may still be charged."),
            },
            "confirm": {"type": "plain_text", "text": _("Cancel it")},
            "deny": {"type": "plain_text", "text": _("Keep it")},
        }
        buttons.append(cancel)
    buttons.append(button(DETAILS_ACTION_ID, _("Details")))
    return buttons


def comparison_line(job: Job) -> str:
    """A comparison's take: which of how many, the other takes by model and job id, and the whole cost."""
    takes = job.compared
    place = next((n for n, (job_id, _) in enumerate(takes, start=1) if job_id == job.id), 1)
    others = ", ".join(f"{escape(model)} `{job_id}`" for job_id, model in takes if job_id != job.id)
    total = usd(job.comparison_cost_micros or 0)
    return _n(
        "🆚 Take {place} of {count} comparing models for this prompt · also {others} · est. {total} for all {count}",
        "🆚 Take {place} of {count} comparing models for this prompt · also {others} · est. {total} for all {count}",
        len(takes),
        place=place,
        others=others,
        total=total,
    )


def _approval_cost(job: Job) -> str:
    """What is over the approval limit: a comparison's take waits because of the comparison's total."""
    if job.compared:
        return _("the comparison's {cost} in all", cost=usd(job.comparison_cost_micros or 0))
    return usd(job.estimated_cost_micros)


def comparison_capped(takes: Sequence[Take], skipped: Sequence[Skipped] = ()) -> Message:
    """The takes of a comparison that run shorter than asked (their model makes no longer videos), and the
    settings of a preset or a default that could not apply to it (`skipped`)."""
    lines = skipped_lines(skipped)
    if skipped:
        lines.append(_("The comparison was started without them."))
    if takes:
        cut = "; ".join(
            _(
                "{model} makes videos of up to {limit}, so its take is {limit} (you asked for {asked})",
                model=escape(t.request.model),
                limit=seconds_text(t.request.duration_seconds),
                asked=seconds_text(t.capped_from or 0),
            )
            for t in takes
        )
        lines.insert(0, _("Started your comparison. {capped}; the other takes run as asked.", capped=cut))
    return private_answer("\n".join(lines))


def _rerun_line(job: Job) -> str:
    what = _("this draft") if job.full_of_draft else _("this video")
    original = (
        f"<{escape(job.rerun_link)}|{what}>" if job.rerun_link else _("job {job_id}", job_id=escape(job.rerun_of or ""))
    )
    who = mention(job.user_id)
    if job.full_of_draft:
        return _("⏩ Full version of {original}, asked for by {who}", original=original, who=who)
    if job.remix:
        return _("🎛 Remix of {original}, by {who}", original=original, who=who)
    return _("🔁 Another take of {original}, asked for by {who}", original=original, who=who)


def _draft_line(job: Job) -> str:
    full = drafts.full_request(job)
    if isinstance(full, CommandError):
        return _(
            "✏️ Draft: a cheap preview. Its full version can no longer run as asked: {reason}",
            reason=command_error(full)["text"],
        )
    asked = f"{full.model} · {seconds_text(full.duration_seconds)} · {full.resolution} · {full.aspect_ratio}"
    return _(
        "✏️ Draft: a cheap preview of what was asked for ({asked}). The full version will cost est. {cost}.",
        asked=asked,
        cost=usd(full.estimated_cost_micros),
    )


def remix_refused(gone: bool) -> Message:
    """The Remix button or its form, when the original can't be remixed by this person."""
    if gone:
        return private_answer(_("I can't find the video you wanted to remix any more, so nothing was started."))
    return private_answer(
        _("Only the person who asked for a private video can remix it (nobody else can see it). Nothing was started.")
    )


def remix_unavailable() -> Message:
    return private_answer(
        _(
            "I couldn't open the remix form just now because Slack didn't answer me. Nothing was started; "
            "press *Remix* again in a minute."
        )
    )


def rerun_refused(error: CommandError, *, full_version: bool = False) -> Message:
    reason = command_error(error)["text"]
    if full_version:
        return private_answer(
            _("I can't make the full version of that draft as it was asked for: {reason}", reason=reason)
        )
    return private_answer(_("I can't run that prompt again as it was: {reason}", reason=reason))


def rerun_unavailable() -> Message:
    return private_answer(
        _(
            "I couldn't start the rerun just now because Slack didn't answer me. Nothing was started; "
            "try again in a minute."
        )
    )


def progress_bar(percent: int) -> str:
    filled = max(0, min(_PROGRESS_CELLS, round(percent / 100 * _PROGRESS_CELLS)))
    return "▓" * filled + "░" * (_PROGRESS_CELLS - filled)


def progress_message(job: Job, *, approval_limit_micros: int = 0, running_cap: int = 0) -> Message:
    """`approval_limit_micros`: the workspace's VIDEOBOT_APPROVAL_OVER_USD, which a job awaiting approval names;
    `running_cap`: VIDEOBOT_MAX_RUNNING_PER_PERSON (0: none), which may hold a job back while slots are free."""
    shown = progress_shown(job)
    match job.state:
        case JobState.ACCEPTED | JobState.SUBMITTING:
            text = _("⏳ Sending the job to Perf…")
        case JobState.AWAITING_APPROVAL:
            text = _(
                "⏳ Waiting for approval: {cost} is over this workspace's {limit} limit. "
                "Nothing is sent to Perf until an approver says yes.",
                cost=_approval_cost(job),
                limit=usd(approval_limit_micros),
            )
        case JobState.QUEUED:
            where = place_phrase(shown.place_in_line or 1)
            if running_cap > 0:
                text = _(
                    "⏳ Waiting for a free slot at Perf: {place}. The account runs a few jobs at a time, "
                    "one person runs at most {cap} at a time, and people take turns.",
                    place=where,
                    cap=running_cap,
                )
            else:
                text = _(
                    "⏳ Waiting for a free slot at Perf: {place}. The account runs a few jobs at a time, "
                    "and people take turns.",
                    place=where,
                )
        case JobState.PENDING:
            text = _("⏳ Queued at Perf · {perf_job_id}", perf_job_id=escape(shown.perf_job_id or "-"))
        case JobState.PROCESSING:
            text = f"{progress_bar(shown.percent or 0)} {percent(shown.percent or 0)}"
            if shown.left:
                text += _time_left(shown.left.amount, shown.left.unit)
        case JobState.COMPLETE:
            text = _("{bar} {percent} · uploading the video…", bar=progress_bar(100), percent=percent(100))
        case JobState.DELIVERED:
            if job.delivered_as_link:
                link = escape(job.video_url or "")
                if job.delivery_note:
                    text = _(
                        "✅ Done. Slack didn't take the upload ({why}), so here is the link: {link}",
                        why=escape(job.delivery_note),
                        link=link,
                    )
                else:
                    text = _("✅ Done. Slack didn't take the upload, so here is the link: {link}", link=link)
            elif (taken := taken_seconds(job)) is not None:
                text = _("✅ Done in {taken} · {cost}", taken=seconds_text(taken), cost=usd(job.cost_micros))
            else:
                text = _("✅ Done · {cost}", cost=usd(job.cost_micros))
        case JobState.FAILED:
            error = job.error_message or _("unknown error")  # apart: a _() inside another is never extracted
            text = approval_ending(job) or _("❌ The video could not be made: {error}", error=escape(error))
        case JobState.UNKNOWN:
            text = _(
                "⚠️ The connection to Perf broke while this job was being sent, so I can't tell whether Perf "
                "received it. To make sure you are not charged twice I did not send it again. "
                "If no video appears here in a few minutes, press *Run again* on the message above."
            )
        case JobState.CANCELLED:
            text = approval_ending(job) or _("🚫 Cancelled. Perf has no cancel, so the job may still be charged.")
    return {"text": clip(text, MAX_TEXT, sent=True), "unfurl_links": False, "unfurl_media": False}


def _time_left(amount: int, unit: str) -> str:
    """` · about 3 min left`: the unit as progress_shown gives it (`s`, `min`)."""
    if unit == "min":
        return _n(" · about {count} min left", " · about {count} min left", amount)
    return _(" · about {seconds} left", seconds=seconds_text(amount))


def upload_title(job: Job) -> str:
    title = f"{seconds_text(job.duration_seconds)} · {job.resolution} · {usd(job.cost_micros)}"
    taken = taken_seconds(job)
    return title if taken is None else title + _(" · made in {taken}", taken=seconds_text(taken))


def video_filename(job: Job) -> str:
    words = re.findall(r"[a-z0-9]+", job.prompt.lower())[:6]
    return ("-".join(words) or "video")[:60] + ".mp4"


def cannot_post_in_channel(reason: str, *, sent_to_perf: bool = False) -> Message:
    hints = {
        "not_in_channel": N_("Invite me first: `/invite @videobot`, then run the command again."),
        "channel_not_found": N_("I can't see this channel. Invite me (`/invite @videobot`) and try again."),
        "is_archived": N_("This channel is archived; run the command in another channel."),
        "missing_scope": N_("videobot lacks a permission; ask whoever installed it to reinstall it from its manifest."),
        "restricted_action": N_("This workspace doesn't let me post here; try another channel or ask an admin."),
    }
    if reason in hints:
        hint = _(hints[reason])
        if sent_to_perf:
            hint += " " + _("The job had already gone to Perf, so it may be charged.")
    elif sent_to_perf:
        # Only a channel the bot had just posted in gets its job to Perf before its root.
        hint = _("Try again in a minute.") + " " + _("The job had already gone to Perf, so it may be charged.")
    else:
        hint = _("Nothing was sent to Perf and nothing was charged. Try again in a minute.")
    return private_answer(
        _("I couldn't post in this channel ({reason}). {hint}", reason=clip(reason, 1_000), hint=hint)
    )
