"""The Slack Web API side: one shared `AsyncWebClient`, and the few calls jobs need.

Rate limits (429) and connection errors are retried by slack_sdk's retry handlers. Server errors are
not retried here on purpose: a retried `chat.postMessage` after a 5xx can post the message twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("videobot.slack")

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
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        return error
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "unknown_error"


class SlackGateway:
    def __init__(
        self,
        client: AsyncWebClient,
        transfer: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self._on_call = on_call or (lambda method, outcome: None)
        self.client = client
        self._transfer = transfer
        self._session = session

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            # The SDK's typed methods encode each argument the way the real API expects it.
            response = await getattr(self.client, method.replace(".", "_"))(**kwargs)
        except SlackApiError as exc:
            self._on_call(method, _error_code(exc))
            raise SlackCallError(method, _error_code(exc)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._on_call(method, "connection_error")
            raise SlackCallError(method, f"connection_error:{type(exc).__name__}") from None
        self._on_call(method, "ok")
        return response.data if isinstance(response.data, dict) else {}

    async def post_message(self, channel: str, message: dict[str, Any], thread_ts: str | None = None) -> str:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        data = await self._call("chat.postMessage", channel=channel, **message, **extra)
        ts = data.get("ts")
        if not isinstance(ts, str):
            raise SlackCallError("chat.postMessage", "no_ts_in_response")
        return ts

    async def update_message(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        fields = {k: v for k, v in message.items() if k in ("text", "blocks")}
        await self._call("chat.update", channel=channel, ts=ts, blocks=fields.get("blocks", []), text=fields["text"])

    async def post_ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        fields = {k: v for k, v in message.items() if k in ("text", "blocks")}
        await self._call("chat.postEphemeral", channel=channel, user=user, **fields)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", trigger_id=trigger_id, view=view)

    async def update_view(self, view_id: str, view_hash: str, view: dict[str, Any]) -> None:
        # The hash makes Slack refuse an update based on a view the person has changed since.
        await self._call("views.update", view_id=view_id, hash=view_hash, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._call("views.publish", user_id=user_id, view=view)

    async def workspace_url(self) -> str:
        """https://acme.slack.com/ — for links to messages without one chat.getPermalink per message."""
        data = await self._call("auth.test")
        url = data.get("url")
        return url if isinstance(url, str) and url.startswith("https://") else ""

    async def open_dm(self, user_id: str) -> str:
        data = await self._call("conversations.open", users=user_id)
        channel = data.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackCallError("conversations.open", "no_channel_in_response")
        return channel_id

    async def permalink(self, channel: str, ts: str) -> str:
        data = await self._call("chat.getPermalink", channel=channel, message_ts=ts)
        link = data.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise SlackCallError("chat.getPermalink", "no_permalink_in_response")
        return link

    async def user_info(self, user_id: str) -> SlackUser:
        data = await self._call("users.info", user=user_id)
        user = data.get("user")
        if not isinstance(user, dict) or user.get("id") != user_id:
            raise SlackCallError("users.info", "no_user_in_response")
        profile = user.get("profile")
        if not isinstance(profile, dict):
            profile = {}
        name = next(
            (
                value
                for value in (
                    profile.get("display_name"),
                    profile.get("real_name"),
                    user.get("real_name"),
                    user.get("name"),
                )
                if isinstance(value, str) and value.strip()
            ),
            user_id,
        )
        return SlackUser(
            id=user_id,
            is_bot=bool(user.get("is_bot")),
            deleted=bool(user.get("deleted")),
            is_admin=bool(user.get("is_admin")),
            is_owner=bool(user.get("is_owner") or user.get("is_primary_owner")),
            name=name.strip(),
        )

    async def tell_privately(self, channel: str, user: str, message: dict[str, Any], response_url: str = "") -> bool:
        """Through the `response_url` when there is one, else as an ephemeral in `channel`; never raises.

        False when neither reached the person (the channel is gone, Slack is down)."""
        if await self.respond(response_url, message):
            return True
        try:
            await self.post_ephemeral(channel, user, message)
        except SlackCallError as exc:
            log.warning("event=not_told_privately channel=%s user=%s error=%s", channel, user, exc.error)
            return False
        return True

    async def respond(self, response_url: str, message: dict[str, Any]) -> bool:
        """Answer privately through a command's response_url; False when that is no longer possible."""
        if not response_url:
            return False
        try:
            result = await AsyncWebhookClient(response_url, session=self._session, timeout=15).send_dict(message)
        except (aiohttp.ClientError, TimeoutError):
            return False
        return result.status_code == 200

    async def start_upload(self, filename: str, length: int) -> tuple[str, str]:
        data = await self._call("files.getUploadURLExternal", filename=filename, length=length)
        upload_url, file_id = data.get("upload_url"), data.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise SlackCallError("files.getUploadURLExternal", "no_upload_url_in_response")
        return upload_url, file_id

    async def send_upload(self, upload_url: str, chunks: AsyncIterator[bytes], length: int) -> None:
        """Stream the bytes to Slack's upload URL; the body is never held in memory whole."""
        try:
            response = await self._transfer.post(
                upload_url,
                content=chunks,
                headers={"Content-Length": str(length), "Content-Type": "application/octet-stream"},
            )
        except httpx.TransportError as exc:
            raise SlackCallError("upload", f"connection_error:{type(exc).__name__}") from None
        if response.status_code != 200:
            raise SlackCallError(
                "upload", "file_too_large" if response.status_code == 413 else f"http_{response.status_code}"
            )

    async def complete_upload(self, file_id: str, title: str, channel: str, thread_ts: str) -> None:
        await self._call(
            "files.completeUploadExternal",
            files=[{"id": file_id, "title": title}],
            channel_id=channel,
            thread_ts=thread_ts,
        )
