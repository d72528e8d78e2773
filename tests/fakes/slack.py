"""A fake of the Slack Web API on 127.0.0.1: enough of it for the real slack_sdk client to talk to.

It keeps what a person would see (messages, edits, files in threads, private answers) so that tests
assert on that, and it can be told to fail a method the way real Slack does.

Like real Slack it refuses what Slack would refuse:
- calls over the published rate limits (`limits=True`, the default) get HTTP 429 with `Retry-After`;
  they are listed in `rate_limited` and not in `calls`. The table below is the fake's own model of
  Slack (see ../shared/slack-platform.md), not the bot's: a fake sharing the bot's table would only
  test that table against itself.
- messages and views Slack's Block Kit would refuse (`tests/fakes/blockkit.py`), always; they are
  listed in `refused` and, as Slack received them, in `calls`.
- a token it never issued (`invalid_auth`), a revoked one (`token_revoked`), and a workspace's token naming
  a channel of another workspace (`channel_not_found`, as Slack answers for a channel the bot cannot see;
  listed in `cross_workspace`).

Many workspaces (issue 25): by default the fake is the one workspace of BOT_TOKEN, as before. More are
added with `add_workspace` (each its own bot token, bot user and rate limits); `add_channel` says whose a
channel is (a channel never added is everyone's, as every test before many workspaces assumes). Installing
is Slack's OAuth v2: `GET /oauth/v2/authorize` (the page a person's browser is sent to) redirects back to
`redirect_uri` with a `code` and the `state`, and `oauth.v2.access` trades the code, once, for the bot
token of the workspace `authorize_as` chose (the default workspace unless told otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import urlencode, urlsplit

from aiohttp import WSMsgType, web

from tests.fakes.blockkit import message_problem, view_problem

BOT_TOKEN = "xoxb-test-0000-fake-bot-token"
BOT_USER_ID = "UBOT0001"
APP_TOKEN = "xapp-1-test-fake-app-level-token"
TEAM_ID = "T0001"  # the default workspace, BOT_TOKEN's: the only one unless a test adds more
BOT_ID = "BBOT0001"
# The app's credentials for OAuth (oauth.v2.access, the authorize page), as in its Basic Information page.
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret-0000"
# Who clicks Allow on the authorize page, unless `authorize_as` names someone else.
INSTALLER_ID = "UINSTALL01"

# Slack's tiers as the fake models them: (calls a minute, the burst Slack tolerates).
TIERS: dict[int, tuple[float, int]] = {1: (1, 2), 2: (20, 5), 3: (50, 8), 4: (100, 15)}
METHOD_TIERS: dict[str, int] = {
    "chat.update": 3,
    "reactions.add": 3,
    "conversations.open": 3,
    "chat.postEphemeral": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
    "users.info": 4,
    "chat.getPermalink": 4,
    "auth.test": 4,
    "functions.completeSuccess": 3,
    "functions.completeError": 3,
    # apps.connections.open is Socket Mode plumbing: not limited.
}
# chat.postMessage has its own rule: about one a second per channel, plus a workspace-wide limit.
POST_MESSAGE_PER_CHANNEL: tuple[float, int] = (60, 3)
POST_MESSAGE_PER_WORKSPACE: tuple[float, int] = (300, 30)
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
VIEW_METHODS = frozenset({"views.open", "views.update", "views.publish"})


# A Web API method of the fake (`_m_<method>`): the call's parameters in, Slack's answer out, both JSON.
MethodHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Failure(TypedDict):
    """How the next call of a method fails (`fail_next`): a Slack error, or an HTTP status with its Retry-After."""

    error: str
    status: int
    retry_after: str


def _every_call(params: dict[str, Any]) -> bool:
    """The gate filter of a gate set without one: it holds every call."""
    return True


class TokenBucket:
    """`burst` tokens, refilled at `per_minute` / 60 a second in real time; a call takes one."""

    def __init__(self, per_minute: float, burst: int, now: float) -> None:
        self.capacity = float(burst)
        self.per_second = per_minute / 60
        self.tokens = float(burst)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 when one is there now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class FakeWorkspace:
    """A workspace (or, with no team, a Grid org's org-wide install) and the bot token Slack gave the app there."""

    team_id: str | None
    enterprise_id: str | None
    bot_token: str
    bot_user_id: str
    bot_id: str
    name: str
    is_enterprise_install: bool = False

    @property
    def key(self) -> str:
        """The workspace's own rate limits and channels are under this: its team, or its org when org-wide."""
        return self.team_id or self.enterprise_id or ""

    def sees(self, channel: FakeChannel) -> bool:
        if self.is_enterprise_install:
            return channel.enterprise_id is not None and channel.enterprise_id == self.enterprise_id
        return self.team_id in channel.teams


@dataclass
class FakeChannel:
    teams: frozenset[str]  # the workspaces it is in: more than one in a Slack Connect channel
    enterprise_id: str | None = None  # the Grid org of its workspaces, for an org-wide install's token


@dataclass
class FakeCode:
    """A code the authorize page gave: what oauth.v2.access trades it for, once."""

    workspace: FakeWorkspace
    installer: str
    redirect_uri: str
    used: bool = False


@dataclass
class FakeMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    edits: int = 0
    history: list[str] = field(default_factory=list)  # the text after each edit, oldest first
    edit_times: list[float] = field(default_factory=list)  # time.monotonic() of each edit in history

    def all_text(self) -> str:
        """What a person reads: the fallback text and every text inside the blocks."""
        parts = [self.text]

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("text"), str):
                    parts.append(node["text"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.blocks)
        return "\n".join(parts)


@dataclass
class FakeFile:
    file_id: str
    filename: str
    announced_length: int
    received: int = 0
    sha256: str = ""
    chunked: bool = False
    shares: list[tuple[str, str]] = field(default_factory=list)  # (channel, thread_ts)
    shared_at: float | None = None  # time.monotonic() of the first share
    title: str = ""


class FakeSlack:
    def __init__(self, *, limits: bool = True, speed: float = 1.0) -> None:
        # `speed` runs Slack's clock for its limits that many times faster (the bot's pacer is told the
        # same, VIDEOBOT_SLACK_PACE): the two keep the same relation in a fraction of the real time.
        self.speed = speed
        # Slack's rate limits, in real time (time.monotonic); switchable at any time.
        self.limits = limits
        self.rate_limited: list[tuple[str, str]] = []  # (method, channel or "") of each call answered 429
        self.refused: list[tuple[str, str, str]] = []  # (method, error, why) of each payload Block Kit refused
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}  # (workspace, method, channel or "") → bucket
        self.messages: list[FakeMessage] = []
        self.files: dict[str, FakeFile] = {}
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response_url id, body)
        self.ephemerals: list[tuple[str, str, str]] = []  # (channel, user, text)
        self.views: dict[str, dict[str, Any]] = {}  # view id → the view as last opened or updated
        self.view_hashes: dict[str, str] = {}
        self.opened_with: list[str] = []  # trigger ids views.open was called with
        # Workflow steps: the token Slack gave each execution, and how each was ended (once: a second
        # end is refused, as Slack refuses it).
        self.step_tokens: dict[str, str] = {}
        self.ended_steps: dict[str, tuple[str, dict[str, Any]]] = {}
        self.homes: dict[str, list[dict[str, Any]]] = {}  # user → every App Home view published
        # users.info answers: anyone not listed here is an ordinary member named after their id.
        self.users: dict[str, dict[str, Any]] = {BOT_USER_ID: {"is_bot": True, "name": "videobot"}}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_times: list[float] = []  # time.monotonic() of each entry in calls
        self.failures: dict[str, list[Failure]] = {}
        self.unauthorized_calls = 0
        # Many workspaces: each bot token's workspace (BOT_TOKEN's by default), whose each channel is, and
        # the tokens of uninstalled workspaces (answered `token_revoked`).
        self.default_workspace = FakeWorkspace(
            team_id=TEAM_ID,
            enterprise_id=None,
            bot_token=BOT_TOKEN,
            bot_user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            name="Acme",
        )
        self.workspaces: dict[str, FakeWorkspace] = {BOT_TOKEN: self.default_workspace}
        self.channels: dict[str, FakeChannel] = {}
        self.revoked_tokens: set[str] = set()
        self.cross_workspace: list[tuple[str, str, str]] = []  # (method, channel, the caller's workspace key)
        # OAuth: the app's credentials, the codes given, who the authorize page installs next, and each
        # install oauth.v2.access completed (workspace key, installer).
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.codes: dict[str, FakeCode] = {}
        self.next_install: tuple[FakeWorkspace, str] | None = None
        self.deny_next_install = False
        self.installs: list[tuple[str, str]] = []
        self._codes = itertools.count(1)
        self._workspace_numbers = itertools.count(2)
        # Hold points for kill tests: a call of the method waits here; if its caller died meanwhile,
        # it is dropped as real Slack would never have received it.
        self.gates: dict[str, asyncio.Event] = {}
        self.held: dict[str, int] = {}
        self.gate_filters: dict[str, Callable[[dict[str, Any]], bool]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}
        # Where apps.connections.open sends the app ("": the fake's own /socket); a dead address keeps
        # the bot's Socket Mode client connecting.
        self.socket_url = ""
        # The app-level token Slack takes now (change it to revoke the bot's).
        self.app_token = APP_TOKEN
        self._envelopes = itertools.count(1)
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- programming it ---------------------------------------------------------------------------

    def fail_next(self, method: str, *, error: str = "", status: int = 200, retry_after: str = "") -> None:
        """The next call of `method` answers with a Slack error, or with an HTTP status (429, 500…)."""
        self.failures.setdefault(method, []).append({"error": error, "status": status, "retry_after": retry_after})

    def add_user(self, user_id: str, **fields: Any) -> None:
        """users.info will describe `user_id` with these fields (is_bot, is_admin, deleted, real_name…)."""
        self.users[user_id] = fields

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base_url}/response/{name}"

    def add_workspace(
        self, team_id: str | None, *, enterprise_id: str | None = None, name: str = "", org_wide: bool = False
    ) -> FakeWorkspace:
        """A workspace where the app is installed, with a bot token of its own (`org_wide`: a Grid org's
        org-wide install, with no team, whose token serves the org's workspaces)."""
        if org_wide == (team_id is not None) or (org_wide and enterprise_id is None):
            raise ValueError("an org-wide install has an enterprise and no team; any other install has a team")
        number = next(self._workspace_numbers)
        key = team_id or enterprise_id or ""
        workspace = FakeWorkspace(
            team_id=team_id,
            enterprise_id=enterprise_id,
            bot_token=f"xoxb-{number}-{key}-fake-bot-token",
            bot_user_id=f"UBOT{number:04d}",
            bot_id=f"BBOT{number:04d}",
            name=name or f"Workspace {key}",
            is_enterprise_install=org_wide,
        )
        self.workspaces[workspace.bot_token] = workspace
        return workspace

    def add_channel(self, channel: str, *team_ids: str, enterprise_id: str | None = None) -> None:
        """`channel` is in these workspaces only (two or more: a Slack Connect channel); `enterprise_id` is
        their Grid org, whose org-wide install sees it too."""
        self.channels[channel] = FakeChannel(frozenset(team_ids), enterprise_id)

    def uninstall(self, workspace: FakeWorkspace) -> None:
        """The app is removed from `workspace`: its token is revoked (`token_revoked` from now on)."""
        self.workspaces.pop(workspace.bot_token, None)
        self.revoked_tokens.add(workspace.bot_token)

    def authorize_as(self, workspace: FakeWorkspace, installer: str = INSTALLER_ID) -> None:
        """The next person on the authorize page installs the app in `workspace` (the default workspace
        until this is called); its token is valid again if it had been uninstalled."""
        self.next_install = (workspace, installer)

    def issue_code(
        self, workspace: FakeWorkspace | None = None, *, installer: str = INSTALLER_ID, redirect_uri: str = ""
    ) -> str:
        """A code as the authorize page gives one, for oauth.v2.access to trade once."""
        code = f"{next(self._codes)}.fake-oauth-code"
        self.codes[code] = FakeCode(workspace or self.default_workspace, installer, redirect_uri)
        return code

    def authorize_url(self) -> str:
        """Where Bolt's AsyncOAuthSettings(authorization_url=…) sends the browser: this fake's authorize page."""
        return f"{self.base_url}/oauth/v2/authorize"

    # --- what people see -------------------------------------------------------------------------

    def roots(self, channel: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def thread(self, channel: str, ts: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def files_in_thread(self, channel: str, ts: str) -> list[FakeFile]:
        return [f for f in self.files.values() if (channel, ts) in f.shares]

    def call_count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    # --- the server ------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=2 * 1024**3)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk sends some reads (users.info) as GET
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url + "/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            params.update(dict(await request.post()))
        for key in ("blocks", "files", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        if method == "oauth.v2.access":
            # The app's own credentials, not a token: Basic auth (slack_sdk's way) or in the form.
            self.calls.append((method, params))
            return web.json_response(self._oauth_v2_access(auth, params))
        bearer = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        workspace = self.default_workspace
        if method == "apps.connections.open" or method.startswith("functions."):
            expected = self.app_token
            if method.startswith("functions."):
                # A step is ended with the token of its execution, not the bot's.
                expected = self.step_tokens.get(str(params.get("function_execution_id", "")), "no-such-execution")
            authorized = expected in (bearer, params.get("token"))
        else:
            token = bearer if bearer in self.workspaces else str(params.get("token", ""))
            authorized = token in self.workspaces
            if authorized:
                workspace = self.workspaces[token]
            elif (bearer or token) in self.revoked_tokens:
                self.unauthorized_calls += 1
                return web.json_response({"ok": False, "error": "token_revoked"})
        if not authorized:
            self.unauthorized_calls += 1
            return web.json_response({"ok": False, "error": "invalid_auth"})
        # Slack counts a call against its limits when the call arrives; a gate then makes Slack slow to answer.
        # (Counted when the gate opened, calls the bot had paced out one by one met the limit all at once.)
        retry_after = self._over_limit(method, params, workspace.key)
        if retry_after:
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)}
            )
        gate = self.gates.get(method)
        if gate is not None and self.gate_filters.get(method, _every_call)(params):
            self.held[method] = self.held.get(method, 0) + 1
            await gate.wait()
            if request.transport is None or request.transport.is_closing():
                return web.json_response({"ok": False, "error": "caller_gone"})
        self.calls.append((method, params))
        self.call_times.append(time.monotonic())
        queued = self.failures.get(method)
        if queued:
            failure = queued.pop(0)
            if failure["status"] != 200:
                headers = {"Retry-After": failure["retry_after"]} if failure["retry_after"] else {}
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=failure["status"], headers=headers
                )
            return web.json_response({"ok": False, "error": failure["error"]})
        refusal = self._refusal(method, params) or self._other_workspaces(method, params, workspace)
        if refusal is not None:
            return web.json_response(refusal)
        if method == "auth.test":
            return web.json_response(self._auth_test(workspace))
        handler: MethodHandler | None = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(await handler(params))

    def _over_limit(self, method: str, params: dict[str, Any], workspace: str = TEAM_ID) -> int:
        """0 when the call may go on (its tokens taken), else the whole seconds of its Retry-After.

        Slack's limits are per workspace: each workspace has buckets of its own."""
        if not self.limits:
            return 0
        channel = str(params.get("channel", "")) if method == "chat.postMessage" else ""
        if method == "chat.postMessage":
            rules = [(channel, POST_MESSAGE_PER_CHANNEL), ("", POST_MESSAGE_PER_WORKSPACE)]
        elif method in METHOD_TIERS:
            rules = [("", TIERS[METHOD_TIERS[method]])]
        else:
            return 0
        now = time.monotonic() * self.speed
        buckets = []
        for scope, (per_minute, burst) in rules:
            bucket = self._buckets.get((workspace, method, scope))
            if bucket is None:
                bucket = self._buckets[(workspace, method, scope)] = TokenBucket(per_minute, burst, now)
            buckets.append(bucket)
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            # A limited call takes no token from any bucket.
            self.rate_limited.append((method, channel))
            return max(1, math.ceil(wait / self.speed))
        for bucket in buckets:
            bucket.take()
        return 0

    def _refusal(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to a message or view its Block Kit refuses, or None when it takes it."""
        if method in MESSAGE_METHODS:
            problem = message_problem(params)
            if problem is not None:
                error, why = problem
                self.refused.append((method, error, why))
                return {"ok": False, "error": error, "errors": [why]}
        elif method in VIEW_METHODS:
            reason = view_problem(params.get("view"))
            if reason is not None:
                self.refused.append((method, "invalid_arguments", reason))
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [reason]}}
        return None

    def _other_workspaces(self, method: str, params: dict[str, Any], workspace: FakeWorkspace) -> dict[str, Any] | None:
        """Slack's answer to a token naming a channel its workspace cannot see, or None when it can."""
        channel = str(params.get("channel") or params.get("channel_id") or "")
        known = self.channels.get(channel)
        if known is None or workspace.sees(known):
            return None
        self.cross_workspace.append((method, channel, workspace.key))
        return {"ok": False, "error": "channel_not_found"}

    def _auth_test(self, workspace: FakeWorkspace) -> dict[str, Any]:
        """auth.test for the token's own workspace: its team (none for an org-wide install), org and bot."""
        host = (workspace.key or "acme").lower() if workspace is not self.default_workspace else "acme"
        answer: dict[str, Any] = {
            "ok": True,
            "url": f"https://{host}.slack.com/",
            "team": workspace.name,
            "user": "videobot",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": workspace.is_enterprise_install,
        }
        if workspace.enterprise_id is not None:
            answer["enterprise_id"] = workspace.enterprise_id
        if workspace.team_id is None:
            del answer["team_id"]
        return answer

    def _oauth_v2_access(self, auth: str, params: dict[str, Any]) -> dict[str, Any]:
        """Trade a code for the installation, as Slack does: once, for the app it was given to."""
        client_id, client_secret = str(params.get("client_id", "")), str(params.get("client_secret", ""))
        if auth.startswith("Basic "):
            try:
                client_id, _, client_secret = (
                    base64.b64decode(auth.removeprefix("Basic "), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                return {"ok": False, "error": "invalid_client_id"}
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        code = self.codes.get(str(params.get("code", "")))
        if code is None or code.used:
            return {"ok": False, "error": "invalid_code"}
        code.used = True
        if code.redirect_uri and params.get("redirect_uri") and params["redirect_uri"] != code.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        workspace = code.workspace
        # Installing again brings a revoked token back, as a reinstall does.
        self.revoked_tokens.discard(workspace.bot_token)
        self.workspaces[workspace.bot_token] = workspace
        self.installs.append((workspace.key, code.installer))
        enterprise = (
            {"id": workspace.enterprise_id, "name": f"Org {workspace.enterprise_id}"}
            if workspace.enterprise_id
            else None
        )
        return {
            "ok": True,
            "app_id": "A0VIDEOBOT",
            "authed_user": {"id": code.installer},
            "scope": "commands,chat:write,files:write,users:read",
            "token_type": "bot",
            "access_token": workspace.bot_token,
            "bot_user_id": workspace.bot_user_id,
            "team": None if workspace.is_enterprise_install else {"id": workspace.team_id, "name": workspace.name},
            "enterprise": enterprise,
            "is_enterprise_install": workspace.is_enterprise_install,
        }

    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page, after the person clicked Allow (or Cancel): back to the app with a code."""
        query = request.query
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="Invalid client_id parameter")
        redirect_uri = query.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return web.Response(status=400, text="Missing or invalid redirect_uri")
        back: dict[str, str] = {}
        if self.deny_next_install:
            self.deny_next_install = False
            back["error"] = "access_denied"
        else:
            workspace, installer = self.next_install or (self.default_workspace, INSTALLER_ID)
            back["code"] = self.issue_code(workspace, installer=installer, redirect_uri=redirect_uri)
        if "state" in query:
            back["state"] = query["state"]
        separator = "&" if urlsplit(redirect_uri).query else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(back)}")

    async def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_url or self.base_url.replace("http://", "ws://") + "/socket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then carry envelopes to the app and record its acks."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                body = json.loads(message.data)
                if "envelope_id" in body:
                    self.socket_acks[body["envelope_id"]] = body.get("payload") or {}
        return socket

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an event, command or interaction over the open Socket Mode connection."""
        envelope_id = f"env-{next(self._envelopes)}"
        live = [s for s in self.sockets if not s.closed]
        await live[-1].send_json(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        return envelope_id

    async def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        self.messages.append(
            FakeMessage(
                channel=params["channel"],
                ts=ts,
                text=params.get("text", ""),
                blocks=params.get("blocks") or [],
                thread_ts=params.get("thread_ts"),
            )
        )
        return {"ok": True, "channel": params["channel"], "ts": ts}

    async def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = f"V{len(self.views) + 1:04d}"
        self.views[view_id] = params["view"] if isinstance(params["view"], dict) else json.loads(params["view"])
        self.view_hashes[view_id] = f"{view_id}-1"
        self.opened_with.append(params["trigger_id"])
        return {"ok": True, "view": {"id": view_id, "hash": self.view_hashes[view_id]}}

    async def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params["view_id"]
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != self.view_hashes[view_id]:
            return {"ok": False, "error": "hash_conflict"}
        self.views[view_id] = params["view"] if isinstance(params["view"], dict) else json.loads(params["view"])
        number = int(self.view_hashes[view_id].rsplit("-", 1)[1]) + 1
        self.view_hashes[view_id] = f"{view_id}-{number}"
        return {"ok": True, "view": {"id": view_id, "hash": self.view_hashes[view_id]}}

    async def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params["view"] if isinstance(params["view"], dict) else json.loads(params["view"])
        self.homes.setdefault(params["user_id"], []).append(view)
        return {"ok": True, "view": {"id": f"VHOME{params['user_id']}"}}

    async def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": f"D{params['users']}"}}

    async def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append((params["channel"], params["user"], params.get("text", "")))
        return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}

    async def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        if not any(m.channel == params["channel"] and m.ts == params["message_ts"] for m in self.messages):
            return {"ok": False, "error": "message_not_found"}
        path = params["message_ts"].replace(".", "")
        return {
            "ok": True,
            "channel": params["channel"],
            "permalink": f"https://acme.slack.com/archives/{params['channel']}/p{path}",
        }

    def start_step(self, execution_id: str) -> str:
        """A workflow run reaching the bot's step: the token Slack would send with function_executed."""
        token = self.step_tokens[execution_id] = f"xwfp-{execution_id}"
        return token

    async def _m_functions_completeSuccess(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._end_step(params, "success", {"outputs": json.loads(params.get("outputs") or "{}")})

    async def _m_functions_completeError(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._end_step(params, "error", {"error": params.get("error", "")})

    def _end_step(self, params: dict[str, Any], how: str, detail: dict[str, Any]) -> dict[str, Any]:
        execution_id = str(params["function_execution_id"])
        if execution_id in self.ended_steps:
            return {"ok": False, "error": "execution_not_in_running_state"}
        self.ended_steps[execution_id] = (how, detail)
        return {"ok": True}

    async def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params["user"]
        fields = self.users.get(user_id, {})
        name = fields.get("real_name", f"Person {user_id}")
        user = {
            "id": user_id,
            "name": fields.get("name", user_id.lower()),
            "real_name": name,
            "deleted": fields.get("deleted", False),
            "is_bot": fields.get("is_bot", False),
            "is_admin": fields.get("is_admin", False),
            "is_owner": fields.get("is_owner", False),
            "profile": {"display_name": fields.get("display_name", ""), "real_name": name},
        }
        # Slack sends the locale only when asked (include_locale); a test sets a person's with add_user(locale=…).
        if str(params.get("include_locale", "")).lower() in ("1", "true"):
            user["locale"] = fields.get("locale", "en-US")
        return {"ok": True, "user": user}

    async def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages:
            if message.channel == params["channel"] and message.ts == params["ts"]:
                message.text = params.get("text", message.text)
                message.history.append(message.text)
                message.edit_times.append(time.monotonic())
                message.blocks = params.get("blocks") or []
                message.edits += 1
                return {"ok": True, "channel": message.channel, "ts": message.ts}
        return {"ok": False, "error": "message_not_found"}

    async def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._file_ids):07d}"
        self.files[file_id] = FakeFile(file_id, params["filename"], int(params["length"]))
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}

    async def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        shared = []
        for item in params["files"]:
            file = self.files.get(item["id"])
            if file is None or file.received != file.announced_length:
                return {"ok": False, "error": "file_not_found"}
            file.title = item.get("title", "")
            file.shares.append((params["channel_id"], params.get("thread_ts", "")))
            file.shared_at = file.shared_at or time.monotonic()
            shared.append({"id": file.file_id, "title": file.title})
        return {"ok": True, "files": shared}

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="unknown upload")
        gate = self.gates.get("upload")
        if gate is not None:
            self.held["upload"] = self.held.get("upload", 0) + 1
            await gate.wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499, text="caller gone")
        digest = hashlib.sha256()
        size = 0
        file.chunked = "chunked" in request.headers.get("Transfer-Encoding", "")
        async for chunk in request.content.iter_chunked(64 * 1024):
            digest.update(chunk)
            size += len(chunk)
        file.received, file.sha256 = size, digest.hexdigest()
        return web.Response(text=f"OK - {size}")

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        # Deleting the original message needs no text; anything else is a message Block Kit must take.
        if not isinstance(body, dict):
            problem: tuple[str, str] | None = ("invalid_payload", "the body is not a JSON object")
        else:
            problem = None if body.get("delete_original") else message_problem(body)
        if problem is not None:
            error, why = problem
            self.refused.append(("response_url", error, why))
            return web.Response(status=400, text=error)
        self.responses.append((request.match_info["name"], body))
        return web.Response(text="ok")
