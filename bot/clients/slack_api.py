"""Slack's Web API as the gateway sees it: the one client, the errors that mean something to the bot,
and the person a user id names. No pacing here: every call goes through `bot.clients.slack`."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

Message = dict[str, Any]

log = logging.getLogger("videobot.slack")

# The longest Retry-After of Slack's that is waited out as given. Slack's limits are per second or per minute; a
# larger value (a proxy's, a bug's) would hold a lane's calls until a restart, so it is cut to this and logged.
# A lane still limited after the wait gets another 429 and waits again.
MAX_RETRY_AFTER_SECONDS = 60.0

# A 429 is waited out and the call tried again this many times before it fails like any other error.
MAX_RATE_LIMITED_TRIES = 4

# Errors after which trying again cannot help: the job's messages cannot be posted at all.
CHANNEL_GONE_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",  # the app was installed without a scope it needs: retrying cannot help
        "restricted_action",  # a workspace policy stops the bot posting here
    }
)
# Errors that mean Slack will never take this payload as it is: it goes again as plain text, once.
PAYLOAD_REFUSED_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments", "too_many_attachments", "no_text"}
)
# Errors that mean Slack will not take this file; the thread gets the link instead.
UPLOAD_REFUSED_ERRORS = frozenset(
    {"missing_scope", "file_too_large", "file_size_too_large", "not_allowed_token_type", "invalid_arguments"}
)


class SlackCallError(Exception):
    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


@dataclass(frozen=True)
class SlackUser:
    id: str
    is_bot: bool
    deleted: bool
    is_admin: bool
    is_owner: bool
    name: str  # display name, else real name, else the handle: for text that must not ping anyone
    locale: str = ""  # the language their Slack is set to (`de-DE`, `es-LA`), "" when Slack gave none

    @property
    def runs_the_workspace(self) -> bool:
        """A workspace admin or owner: may set quotas, cancel anyone's job, and see every channel's spend."""
        return self.is_admin or self.is_owner

    @property
    def is_person(self) -> bool:
        # Slackbot is not flagged is_bot, but it is not a person either.
        return not (self.is_bot or self.deleted or self.id == "USLACKBOT")


def make_web_client(token: str, base_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """Must be called inside the running loop: `session` is shared, so calls reuse connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        timeout=30,
        retry_handlers=[
            # No rate-limit handler: it would retry only the refused call, after sleeping where nobody
            # sees it; the gateway holds the whole method instead.
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def error_code(exc: SlackApiError) -> str:
    response = exc.response
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        return error
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "unknown_error"


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


def retry_after_of(exc: SlackApiError) -> float:
    """How long Slack asks the bot to wait after a 429: at least 1 s, at most MAX_RETRY_AFTER_SECONDS."""
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else 1.0
    except (ValueError, TypeError):
        return 1.0
    if math.isnan(seconds):
        return 1.0
    if seconds > MAX_RETRY_AFTER_SECONDS:
        log.warning(
            "event=slack_retry_after_capped retry_after=%.20s capped_seconds=%.0f", value, MAX_RETRY_AFTER_SECONDS
        )
        return MAX_RETRY_AFTER_SECONDS
    return max(1.0, seconds)
