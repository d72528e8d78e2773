"""What real Slack refuses in a message or a view, as the fake Slack and the limit tests check it.

slack_sdk's own models do most of the work (`Block.parse(...).to_dict()`, `View(**view).to_dict()` raise
for a section over 3,000 characters, a header over 150, a button over 75, a view over 100 blocks…). The
few limits of `../shared/slack-platform.md` the models do not check are added here, so that a payload
passes only when Slack would take it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_FIELD_TEXT = 2_000
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_URL = 3_000
MAX_ID = 255
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3_000


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _extra_problems(blocks: list[Any]) -> str | None:
    """The limits slack_sdk's models leave to the server."""
    for node in _walk(blocks):
        for field in node.get("fields") or []:
            if isinstance(field, dict) and len(str(field.get("text", ""))) > MAX_FIELD_TEXT:
                return f"a section field is over {MAX_FIELD_TEXT} characters"
        text = node.get("text")
        if isinstance(text, dict) and text.get("type") in ("mrkdwn", "plain_text") and not str(text.get("text", "")):
            return "a text object is empty"
        if isinstance(node.get("url"), str) and len(node["url"]) > MAX_URL:
            return f"a url is over {MAX_URL} characters"
        for key in ("action_id", "block_id", "callback_id"):
            if isinstance(node.get(key), str) and len(node[key]) > MAX_ID:
                return f"{key} is over {MAX_ID} characters"
        options = node.get("options")
        if isinstance(options, list):
            if len(options) > MAX_OPTIONS:
                return f"a select has more than {MAX_OPTIONS} options"
            for option in options:
                if isinstance(option, dict) and len(str(option.get("value", ""))) > MAX_OPTION_VALUE:
                    return f"an option value is over {MAX_OPTION_VALUE} characters"
    return None


def _block_problems(blocks: Any, most: int) -> str | None:
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > most:
        return f"{len(blocks)} blocks, more than {most}"
    for index, block in enumerate(blocks):
        try:
            parsed = Block.parse(block) if isinstance(block, dict) else None
            if parsed is None:
                return f"block {index} is not a known block"
            parsed.to_dict()
        except SlackObjectFormationError as exc:
            return f"block {index}: {exc}"
    return _extra_problems(blocks)


def message_problem(message: dict[str, Any]) -> tuple[str, str] | None:
    """(Slack's error code, why) for a chat.postMessage / chat.update / response_url body Slack refuses."""
    text = message.get("text")
    blocks = message.get("blocks")
    if not blocks and not (isinstance(text, str) and text.strip()):
        return "no_text", "neither text nor blocks"
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long", f"text of {len(text)} characters"
    if blocks:
        problem = _block_problems(blocks, MAX_MESSAGE_BLOCKS)
        if problem:
            return "invalid_blocks", problem
    return None


def view_problem(view: Any) -> str | None:
    """Why Slack would refuse this modal or Home tab (views.open / update / publish), or None."""
    if not isinstance(view, dict):
        return "view is not an object"
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError) as exc:
        return str(exc)
    for key in ("title", "submit", "close"):
        part = view.get(key)
        if isinstance(part, dict) and len(str(part.get("text", ""))) > MAX_VIEW_TITLE:
            return f"the view's {key} is over {MAX_VIEW_TITLE} characters"
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        return f"private_metadata is over {MAX_PRIVATE_METADATA} characters"
    return _block_problems(view.get("blocks"), MAX_VIEW_BLOCKS)
