"""The Slack Web API side: one shared `AsyncWebClient`, and the only way the bot calls Slack.

Every call waits for its turn in the pacer (`bot/clients/pacing.py`), so the bot sends within Slack's limits
instead of finding them with 429s; a 429 that comes all the same holds that method (or channel) back for
`Retry-After`, not only the call that was refused. Edits of one message are coalesced: only the newest
content is sent, and a stale edit still waiting is dropped. A message Slack refuses for its blocks is
sent again as plain text, once: no retry cures a payload Slack will never take.

Connection errors are retried by slack_sdk's handler. Server errors are not retried here on purpose: a
retried `chat.postMessage` after a 5xx can post the message twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.clients.pacing import Pacer, Priority, Ticket, stepping_aside
from bot.clients.slack_api import (
    CHANNEL_GONE_ERRORS,
    MAX_RATE_LIMITED_TRIES,
    PAYLOAD_REFUSED_ERRORS,
    UPLOAD_REFUSED_ERRORS,
    Message,
    RateLimited,
    SlackCallError,
    SlackUser,
    error_code,
    make_web_client,
    retry_after_of,
)
from bot.clients.slack_edits import EditQueue, PendingEdit
from bot.clients.slack_workspaces import NotInstalled, SingleToken, TokenSource, current_workspace

__all__ = [
    "CHANNEL_GONE_ERRORS",
    "PAYLOAD_REFUSED_ERRORS",
    "UPLOAD_REFUSED_ERRORS",
    "Message",
    "SlackCallError",
    "SlackGateway",
    "SlackUser",
    "make_web_client",
]

log = logging.getLogger("videobot.slack")

# Methods that, called with a Grid org's org-wide token, must name the workspace (Slack answers
# missing_argument otherwise). The bot's other calls name a channel, user or view, which Slack resolves itself.
TEAM_ID_METHODS = frozenset({"conversations.list", "conversations.create", "users.list", "users.lookupByEmail"})

# A channel the bot posted in this recently is taken to be postable (paid work need not wait for a post).
RECENTLY_POSTED_SECONDS = 600.0


class SlackGateway:
    def __init__(
        self,
        client: AsyncWebClient,
        transfer: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        on_call: Callable[[str, str], None] | None = None,
        *,
        pacer: Pacer | None = None,
        plain_text: Callable[[Message], Message] | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self._on_call = on_call or (lambda method, outcome: None)
        self.client = client
        # Each call's token, looked up when it is sent (one workspace: the client's own token).
        self.tokens: TokenSource = tokens or SingleToken(client.token or "")
        self._transfer = transfer
        self._session = session
        self._pacer = pacer or Pacer()
        # How a refused message is sent instead (formatting is the messages package's, given by the app).
        self._plain_text = plain_text or (lambda message: {"text": str(message.get("text", ""))[:3000]})
        self._edits = EditQueue(self._pacer, self._edit_once)
        self._posted_at: dict[str, float] = {}  # channel → the event loop's time of the last post that worked
        self._probes: dict[str, asyncio.Future[None]] = {}  # channel → the answer to a first post on its way
        # Asked once per workspace: App Home and recall link to threads with it.
        self._workspace_urls: dict[str, str] = {}

    async def _send(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One call, now, with the token of the workspace it is for: the caller has had its turn."""
        workspace = current_workspace()
        if "token" not in kwargs:  # a workflow step's calls carry their own token
            try:
                kwargs["token"] = await self.tokens.token_for(workspace)
            except NotInstalled:
                self._on_call(method, "not_installed")
                raise SlackCallError(method, "not_installed") from None
            if workspace.is_enterprise_install and workspace.team_id and method in TEAM_ID_METHODS:
                kwargs.setdefault("team_id", workspace.team_id)
        try:
            # The SDK's typed methods encode each argument the way the real API expects it.
            response = await getattr(self.client, method.replace(".", "_"))(**kwargs)
        except SlackApiError as exc:
            self.tokens.refused(workspace, error_code(exc))
            self._on_call(method, error_code(exc))
            if getattr(exc.response, "status_code", None) == 429:
                raise RateLimited(retry_after_of(exc)) from None
            raise SlackCallError(method, error_code(exc)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._on_call(method, "connection_error")
            raise SlackCallError(method, f"connection_error:{type(exc).__name__}") from None
        self._on_call(method, "ok")
        return response.data if isinstance(response.data, dict) else {}

    async def _call(
        self, method: str, *, priority: Priority = Priority.URGENT, lane: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        """Wait for a turn, call, and wait out any 429 in the whole lane. `lane` is the channel it posts in."""
        for _ in range(MAX_RATE_LIMITED_TRIES):
            await self._pacer.turn(method, lane, Ticket(priority))
            try:
                return await self._send(method, **kwargs)
            except RateLimited as limited:
                await self._pacer.hold(method, lane, limited.retry_after)
        raise SlackCallError(method, "ratelimited")

    async def _call_message(
        self, method: str, message: Message, *, priority: Priority, lane: str, label: str, **kwargs: Any
    ) -> dict[str, Any]:
        """A call carrying a message; if Slack refuses the message itself, its plain-text version instead."""
        try:
            return await self._call(method, priority=priority, lane=lane, **kwargs, **message)
        except SlackCallError as exc:
            plain = self._instead_of_refused(method, label, exc, message)
            return await self._call(method, priority=priority, lane=lane, **kwargs, **plain)

    def _instead_of_refused(self, method: str, label: str, exc: SlackCallError, message: Message) -> Message:
        """The plain-text version to send once when Slack refused the message itself; else `exc` again."""
        if exc.error not in PAYLOAD_REFUSED_ERRORS:
            raise exc
        log.error("%s event=message_refused method=%s error=%s sent_instead=plain_text", label, method, exc.error)
        return self._plain_text(message)

    async def known_postable(self, channel: str) -> bool:
        """Whether `channel` took a message lately; if a first post there is on its way, after its answer.

        So a burst of jobs in a new channel waits for one root's answer, not each for its own."""
        probe = self._probes.get(channel)
        if probe is not None and not self.recently_posted(channel):
            async with stepping_aside():
                await asyncio.shield(probe)
        return self.recently_posted(channel)

    def recently_posted(self, channel: str) -> bool:
        """Whether a message went into `channel` lately, so the bot can still post there (as far as it knows)."""
        posted_at = self._posted_at.get(channel)
        return posted_at is not None and asyncio.get_running_loop().time() - posted_at < RECENTLY_POSTED_SECONDS

    def _posted(self, channel: str, ok: bool) -> None:
        if ok:
            self._posted_at[channel] = asyncio.get_running_loop().time()
        else:
            self._posted_at.pop(channel, None)

    async def post_message(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        *,
        priority: Priority = Priority.ROOT,
        label: str = "",
    ) -> str:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        probe: asyncio.Future[None] | None = None
        if channel not in self._probes and not self.recently_posted(channel):
            probe = self._probes[channel] = asyncio.get_running_loop().create_future()
        try:
            data = await self._call_message(
                "chat.postMessage", message, priority=priority, lane=channel, label=label, channel=channel, **extra
            )
        except SlackCallError as exc:
            if exc.error in CHANNEL_GONE_ERRORS:
                self._posted(channel, False)
            raise
        finally:
            if probe is not None:
                del self._probes[channel]
                probe.set_result(None)
        ts = data.get("ts")
        if not isinstance(ts, str):
            raise SlackCallError("chat.postMessage", "no_ts_in_response")
        self._posted(channel, True)
        return ts

    def edit_soon(
        self,
        channel: str,
        ts: str,
        message: Message,
        *,
        priority: Priority = Priority.BACKGROUND,
        label: str = "",
        still_wanted: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Edit a message when its turn comes, without waiting; a newer edit replaces this one unsent, and
        `still_wanted` answering False when the turn comes drops it."""
        self._edits.queue(channel, ts, message, priority, label, still_wanted=still_wanted)

    async def update_message(
        self, channel: str, ts: str, message: Message, *, priority: Priority = Priority.URGENT, label: str = ""
    ) -> None:
        """Edit a message and wait until Slack has it (or raise SlackCallError)."""
        done = asyncio.get_running_loop().create_future()
        self._edits.queue(channel, ts, message, priority, label, done)
        # The edit waits for its turn in another task: the step that waits for it steps aside meanwhile.
        async with stepping_aside():
            await done

    async def _edit_once(self, channel: str, ts: str, pending: PendingEdit) -> None:
        try:
            await self._send("chat.update", channel=channel, ts=ts, **pending.message)
        except SlackCallError as exc:
            plain = {"blocks": [], **self._instead_of_refused("chat.update", pending.label, exc, pending.message)}
            await self._send("chat.update", channel=channel, ts=ts, text=plain.get("text", ""), blocks=plain["blocks"])

    async def wait_idle(self) -> None:
        """Until every edit asked for has been sent or has failed (tests, and a clean shutdown)."""
        await self._edits.wait_idle()

    async def close(self, grace_seconds: float = 0.0) -> None:
        await self._edits.close(grace_seconds)
        await self._pacer.close()

    async def post_ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        fields = {k: v for k, v in message.items() if k in ("text", "blocks")}
        await self._call_message(
            "chat.postEphemeral", fields, priority=Priority.URGENT, lane=channel, label="", channel=channel, user=user
        )

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", trigger_id=trigger_id, view=view)

    async def update_view(self, view_id: str, view_hash: str, view: dict[str, Any]) -> None:
        # The hash makes Slack refuse an update based on a view the person has changed since.
        await self._call("views.update", view_id=view_id, hash=view_hash, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self._call("views.publish", priority=Priority.BACKGROUND, user_id=user_id, view=view)

    async def workspace_url(self) -> str:
        """https://acme.slack.com/ — for links to messages without one chat.getPermalink per message. Asked
        once (auth.test); "" while Slack doesn't answer (asked again next time): the links are left out."""
        key = self.tokens.pacing_key(current_workspace())
        known = self._workspace_urls.get(key)
        if known is None:
            try:
                data = await self._call("auth.test")
            except SlackCallError:
                return ""
            url = data.get("url")
            known = self._workspace_urls[key] = url if isinstance(url, str) and url.startswith("https://") else ""
        return known

    async def open_dm(self, user_id: str) -> str:
        data = await self._call("conversations.open", priority=Priority.ROOT, users=user_id)
        channel = data.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackCallError("conversations.open", "no_channel_in_response")
        return channel_id

    async def permalink(self, channel: str, ts: str) -> str:
        data = await self._call("chat.getPermalink", priority=Priority.ROOT, channel=channel, message_ts=ts)
        link = data.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise SlackCallError("chat.getPermalink", "no_permalink_in_response")
        return link

    async def user_info(self, user_id: str, priority: Priority = Priority.URGENT) -> SlackUser:
        """Who `user_id` is. A person's own check (an admin's click) is URGENT; names for a report go BACKGROUND,
        so that many of them never stand in front of one someone is waiting for."""
        # include_locale: the language their Slack is set to, which their private answers are given in.
        data = await self._call("users.info", priority=priority, user=user_id, include_locale=True)
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
            locale=str(user.get("locale") or ""),
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

    async def complete_step(self, token: str, execution_id: str, outputs: dict[str, Any] | None, error: str) -> None:
        """End a workflow step: with `outputs`, or failed with `error`. `token` is the step's own, which
        Slack gave with the execution: the bot's token cannot end it."""
        if outputs is not None:
            await self._call(
                "functions.completeSuccess", token=token, function_execution_id=execution_id, outputs=outputs
            )
        else:
            await self._call("functions.completeError", token=token, function_execution_id=execution_id, error=error)

    async def complete_upload(self, file_id: str, title: str, channel: str, thread_ts: str) -> None:
        await self._call(
            "files.completeUploadExternal",
            files=[{"id": file_id, "title": title}],
            channel_id=channel,
            thread_ts=thread_ts,
        )
