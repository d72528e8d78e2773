"""A Slack message's text as plain words, for a prompt made from a message ("Make a video of this").

Slack sends a message's text in its own markup: `<@U123>` for a person, `<#C123|design>` for a channel,
`<https://x|label>` for a link, `<!here>` for a broadcast, `*bold*`, `_italic_`, `~strike~`, code, and
`&amp;`-style escapes. A video model reads none of that, and a prompt must never ping anyone when the
bot shows it back, so each piece becomes the words a person reads in Slack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ENTITY = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"^@([UW][A-Z0-9]+)(?:\|(.*))?$")
_CHANNEL = re.compile(r"^#([CG][A-Z0-9]+)(?:\|(.*))?$")
_SPECIAL = re.compile(r"^!(\w+)(?:\^[^|]*)?(?:\|(.*))?$")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.DOTALL)
# Formatting marks only where Slack treats them as marks: at a word's edges, around text on one line. The text
# inside a pair never holds its own mark, so a mark that opens and never closes is looked past once, up to the
# next mark of its kind: linear in the message's length. (`.+?` up to any closing mark was quadratic: a
# 40,000-character message of lone marks took 7.85 s, and "Make a video of this" acks waited for it.)
_MARKS = re.compile(
    r"(?<![\w*_~`])(?:"
    r"\*(?=\S)([^*\n]*?\S)\*"
    r"|_(?=\S)([^_\n]*?\S)_"
    r"|~(?=\S)([^~\n]*?\S)~"
    r"|`(?=\S)([^`\n]*?\S)`"
    r")(?![\w*_~`])"
)
# Marks nest a few deep at most in a real message (*_both_*); each pass is linear, and the passes are bounded.
_MAX_MARK_PASSES = 6
# Slack's own limit on a message's text; anything longer is cut before it is read.
MAX_MESSAGE_CHARS = 40_000
_EMOJI = re.compile(r":[a-z0-9_+'-]+:")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _marked_text(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None)


def mentioned_users(text: str) -> list[str]:
    """The ids of the people a message mentions without a name beside them (their names are looked up)."""
    users = []
    for inner in _ENTITY.findall(text[:MAX_MESSAGE_CHARS]):
        found = _USER.match(inner)
        if found and not found.group(2) and found.group(1) not in users:
            users.append(found.group(1))
    return users


def plain_words(text: str, names: Mapping[str, str]) -> str:
    """`text` without Slack's markup; `names` maps user ids to the names people see (unknown: "someone")."""

    def entity(match: re.Match[str]) -> str:
        inner = match.group(1)
        if user := _USER.match(inner):
            return user.group(2) or names.get(user.group(1), "someone")
        if channel := _CHANNEL.match(inner):
            return "#" + (channel.group(2) or "channel")
        if special := _SPECIAL.match(inner):
            return special.group(2) or ""  # <!here>, <!channel>: a broadcast is no part of a scene
        target, _, label = inner.partition("|")
        return label or target.removeprefix("mailto:")

    words = _CODE_BLOCK.sub(lambda m: m.group(1).strip(), text[:MAX_MESSAGE_CHARS])
    words = _ENTITY.sub(entity, words)
    for _ in range(_MAX_MARK_PASSES):  # nested marks: *_both_*
        previous, words = words, _MARKS.sub(_marked_text, words)
        if words == previous:
            break
    words = _EMOJI.sub("", words)
    # Slack escapes only these three; &amp; last, so "&amp;lt;" stays the text "&lt;".
    words = words.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [_SPACES.sub(" ", line).strip() for line in words.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
