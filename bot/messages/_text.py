"""What every surface shares: the Message type, Block Kit's limits, the escaping that keeps user text
inert, and the few blocks and phrases built the same way everywhere. Knows nothing of jobs or commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.messages._i18n import money, seconds

Message = dict[str, Any]  # keyword arguments for chat.postMessage / chat.update / ack


# Block Kit's limits (../shared/slack-platform.md), in characters sent. MAX_TEXT is a text object's limit
# (section, context element) and what we allow a message's top-level text, far below Slack's 40,000.
MAX_TEXT = 3_000
MAX_VIEW_BLOCKS = 100
_HALF_ENTITY = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Slack's control characters as entities: `<!channel>` or `<@U1>` typed by a user shows as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str) -> str:
    """A person, as Slack shows them (`<@U1>`): never translated, never a ping of anyone else."""
    return f"<@{escape(user_id)}>"


def linked(url: str, label: str) -> str:
    """`label` linking to `url` (already escaped), as Slack's mrkdwn writes a link."""
    return f"<{url}|{label}>"


def channel_link(channel_id: str) -> str:
    return f"<#{escape(channel_id)}>"


def clip(text: str, limit: int, *, sent: bool = False) -> str:
    """`text` as Slack gets it, in at most `limit` characters: escaped (unless it is already as `sent`:
    our own markup, or plain text) and, when longer, cut to end with "…", never inside an `&amp;`."""
    text = text if sent else escape(text)
    if len(text) <= limit:
        return text
    return _HALF_ENTITY.sub("", text[: max(0, limit - 1)]) + "…"


def listed_in(items: list[str], room: int, sep: str, more: Callable[[int], str]) -> str:
    """`items` joined by `sep` in at most `room` characters; those that don't fit are counted by `more`."""
    shown, length = 0, 0
    while shown < len(items):
        grown = length + (len(sep) if shown else 0) + len(items[shown])
        rest = len(items) - shown - 1
        if grown + (len(sep) + len(more(rest)) if rest else 0) > room:
            break
        shown, length = shown + 1, grown
    left_out = [more(len(items) - shown)] if shown < len(items) else []
    return sep.join(items[:shown] + left_out)


def private_answer(text: str) -> Message:
    """Seen only by the person; sent through a response_url it never replaces the message they clicked."""
    return {"response_type": "ephemeral", "replace_original": False, "text": clip(text, MAX_TEXT, sent=True)}


def usd(micros: int) -> str:
    """Money in the language being spoken (`$2.80`, `2,80 $`), to the cent."""
    return money(micros)


def seconds_text(value: Decimal | float | int) -> str:
    return seconds(value)


def mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not auto-link channel names, URLs or @mentions inside user text.
    return {"type": "mrkdwn", "text": clip(text, MAX_TEXT, sent=True), "verbatim": True}


def context_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(text)]}


def quote_prompt(prompt: str, limit: int) -> str:
    """The prompt in quotes, escaped, in at most `limit` characters sent (quotes aside)."""
    return "“" + clip(prompt, limit) + "”"


# --- when Slack refuses a message's blocks ---------------------------------------------------------


def plain_text_version(message: Message) -> Message:
    """`message` without its blocks, for when Slack refuses them (invalid_blocks, msg_too_long): its
    fallback text, or if it has none the blocks' own texts, within MAX_TEXT; other keys kept."""
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        text = "\n".join(_block_texts(message.get("blocks"))) or "…"
    plain = {key: value for key, value in message.items() if key not in ("blocks", "attachments")}
    plain["text"] = clip(text, MAX_TEXT, sent=True)
    return plain


def _block_texts(blocks: Any) -> list[str]:
    texts: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or block.get("type") not in ("header", "section", "context"):
            continue
        parts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
        texts += [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return [text for text in texts if text.strip()]
