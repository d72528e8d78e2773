"""Which workspace a Slack call is for, and that workspace's bot token (issue 25).

Every call to Slack goes through the gateway (`bot.clients.slack`); the gateway asks `TokenSource` for the
token of the workspace it is acting for when it sends, never earlier, so work done later (polling, delivery,
reports) uses whatever token the workspace has then. Who it acts for is a context variable: a request sets it
from the payload (`acting_for`), a job's step from the job's team, and tasks started meanwhile inherit it.

- One workspace (`SLACK_BOT_TOKEN`): `SingleToken`, the same token whoever asks, and one set of pacing buckets.
- Many workspaces: `InstalledTokens`, each workspace's bot from the installation store, kept in memory for
  `ttl_seconds` so a request costs no query and no `auth.test`. An uninstall handled by this replica drops
  the entry at once (`forget`); one handled by another replica is noticed by the first call Slack refuses with
  a revoked-token error (`refused`, which drops it too) or by the TTL, whichever comes first. Slack itself
  refuses a revoked token, so a stale entry can cost at most a refused call, never a call that goes through.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.oauth.installation_store.models.bot import Bot

# Slack's answers meaning the token is gone for good: the workspace uninstalled the app or revoked it.
GONE_TOKEN_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace as Slack names it in a payload: its team, and its Grid org (if any)."""

    team_id: str = ""
    enterprise_id: str = ""
    # The app is installed org-wide (Grid): the org's one bot serves every workspace the org admin granted.
    is_enterprise_install: bool = False

    @property
    def key(self) -> str:
        """The install it belongs to: the org for an org-wide install, else the team."""
        if self.is_enterprise_install:
            return f"{self.enterprise_id}/"
        return f"{self.enterprise_id}/{self.team_id}"

    @classmethod
    def of_payload(cls, team_id: object, enterprise_id: object, is_enterprise_install: object = False) -> WorkspaceRef:
        """From a payload's fields: Slack sends is_enterprise_install as a bool, or as "true" in forms."""
        return cls(
            team_id=team_id if isinstance(team_id, str) else "",
            enterprise_id=enterprise_id if isinstance(enterprise_id, str) else "",
            is_enterprise_install=is_enterprise_install is True or str(is_enterprise_install).lower() == "true",
        )


NOBODY = WorkspaceRef()
_acting_for: ContextVar[WorkspaceRef] = ContextVar("videobot_slack_workspace", default=NOBODY)


def current_workspace() -> WorkspaceRef:
    return _acting_for.get()


@contextlib.contextmanager
def acting_for(workspace: WorkspaceRef) -> Iterator[None]:
    """Within the block (and every task started in it), Slack calls are this workspace's."""
    token = _acting_for.set(workspace)
    try:
        yield
    finally:
        _acting_for.reset(token)


class NotInstalled(Exception):
    """No installation serves this workspace (never installed, uninstalled, or no workspace named)."""

    def __init__(self, workspace: WorkspaceRef) -> None:
        super().__init__(
            f"no installation for team={workspace.team_id or '-'} enterprise={workspace.enterprise_id or '-'}"
        )
        self.workspace = workspace


class TokenSource(Protocol):
    async def token_for(self, workspace: WorkspaceRef) -> str:
        """The bot token to call Slack with for `workspace`; NotInstalled when there is none."""
        ...

    def pacing_key(self, workspace: WorkspaceRef) -> str:
        """Whose rate-limit buckets a call for `workspace` draws from."""
        ...

    def refused(self, workspace: WorkspaceRef, error: str) -> None:
        """Slack refused a call made with the workspace's token (`error` is Slack's code)."""
        ...


class SingleToken:
    """One workspace: the configured token for every call, one set of buckets."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token_for(self, workspace: WorkspaceRef) -> str:
        return self._token

    def pacing_key(self, workspace: WorkspaceRef) -> str:
        return ""

    def refused(self, workspace: WorkspaceRef, error: str) -> None:
        pass


# How an installed workspace's bot is found: (enterprise_id, team_id, is_enterprise_install) → Bot or None.
FindBot = Callable[[str | None, str | None, bool], Awaitable[Bot | None]]


@dataclass(frozen=True)
class _Cached:
    bot: Bot | None
    until: float


class InstalledTokens:
    """Many workspaces: each workspace's bot, from the installation store, cached per install."""

    def __init__(
        self, find_bot: FindBot, ttl_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._find_bot = find_bot
        self._ttl = ttl_seconds
        self._now = monotonic
        self._cache: dict[str, _Cached] = {}
        # Store lookups made (tests and the benchmark read it: after warm-up, none per request).
        self.lookups = 0

    async def bot_for(self, workspace: WorkspaceRef) -> Bot | None:
        """The installed bot serving `workspace`: its own install, else its Grid org's org-wide install."""
        if not workspace.team_id and not workspace.enterprise_id:
            return None
        cached = self._cache.get(workspace.key)
        if cached is not None and cached.until > self._now():
            return cached.bot
        bot = await self._lookup(workspace)
        if bot is not None:
            # Only what is found: a workspace that installs a moment later is served at once, on every replica.
            self._cache[workspace.key] = _Cached(bot, self._now() + self._ttl)
        return bot

    async def _lookup(self, workspace: WorkspaceRef) -> Bot | None:
        self.lookups += 1
        enterprise = workspace.enterprise_id or None
        if workspace.is_enterprise_install:
            return await self._find_bot(enterprise, None, True)
        bot = await self._find_bot(enterprise, workspace.team_id or None, False)
        if bot is None and enterprise is not None:
            # A workspace of a Grid org whose app is installed org-wide.
            self.lookups += 1
            bot = await self._find_bot(enterprise, None, True)
        return bot

    async def token_for(self, workspace: WorkspaceRef) -> str:
        bot = await self.bot_for(workspace)
        if bot is None or not bot.bot_token:
            raise NotInstalled(workspace)
        return bot.bot_token

    def pacing_key(self, workspace: WorkspaceRef) -> str:
        # Slack's limits are per workspace: a granted workspace of an org install has buckets of its own.
        return f"{workspace.enterprise_id}/{workspace.team_id}"

    def refused(self, workspace: WorkspaceRef, error: str) -> None:
        if error in GONE_TOKEN_ERRORS:
            self.forget(workspace.enterprise_id, workspace.team_id)

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Drop what is cached for this install (and, for an org, for each of its workspaces)."""
        enterprise, team = enterprise_id or "", team_id or ""
        for key in list(self._cache):
            cached_enterprise, _, cached_team = key.partition("/")
            same_team = bool(team) and cached_team == team
            whole_org = not team and bool(enterprise) and cached_enterprise == enterprise
            if same_team or whole_org or key == f"{enterprise}/{team}":
                del self._cache[key]
