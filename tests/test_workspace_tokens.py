"""Each workspace's token and pacing (issue 25), piece by piece: the cache of installed bots (kept, dropped on
an uninstall or a refused token, and by its TTL), the pacer's buckets per workspace, the configuration of the
two modes, and per-workspace tokens kept out of the logs by their shape."""

from __future__ import annotations

import asyncio
import logging

import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot

from bot.clients.pacing import Pacer, Priority, Ticket
from bot.clients.slack_workspaces import (
    InstalledTokens,
    NotInstalled,
    SingleToken,
    WorkspaceRef,
    acting_for,
    current_workspace,
)
from bot.domain.settings import Settings
from bot.runtime.config import ConfigError, load_settings
from bot.runtime.logs import RedactSecrets
from storage.secrets import generate_key

GLOBEX = WorkspaceRef(team_id="T0002")
INITECH = WorkspaceRef(team_id="T0003")


class Installed:
    """An installation store's find_bot, counting lookups."""

    def __init__(self) -> None:
        self.bots: dict[tuple[str | None, str | None], Bot] = {}
        self.asked: list[tuple[str | None, str | None, bool]] = []

    def install(self, team_id: str | None, token: str, enterprise_id: str | None = None) -> None:
        self.bots[(enterprise_id, team_id)] = Bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_id="B1",
            bot_user_id="UB1",
            installed_at=1.0,
            is_enterprise_install=team_id is None,
        )

    async def find_bot(self, enterprise_id: str | None, team_id: str | None, org_wide: bool) -> Bot | None:
        self.asked.append((enterprise_id, team_id, org_wide))
        return self.bots.get((enterprise_id, None if org_wide else team_id))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_a_workspaces_token_is_looked_up_once_then_served_from_memory() -> None:
    installed, clock = Installed(), Clock()
    installed.install("T0002", "xoxb-globex")
    tokens = InstalledTokens(installed.find_bot, ttl_seconds=60, monotonic=clock)
    for _ in range(200):
        assert await tokens.token_for(GLOBEX) == "xoxb-globex"
    assert len(installed.asked) == 1
    # Past the TTL it is read again (an uninstall on another replica, seen within a minute at worst).
    clock.t = 61
    assert await tokens.token_for(GLOBEX) == "xoxb-globex"
    assert len(installed.asked) == 2


async def test_an_uninstall_or_a_revoked_token_drops_the_cached_token_at_once() -> None:
    installed = Installed()
    installed.install("T0002", "xoxb-globex")
    installed.install("T0003", "xoxb-initech")
    tokens = InstalledTokens(installed.find_bot, monotonic=Clock())
    await tokens.token_for(GLOBEX)
    await tokens.token_for(INITECH)

    del installed.bots[(None, "T0002")]
    tokens.forget(None, "T0002")  # this replica handled the uninstall
    with pytest.raises(NotInstalled):
        await tokens.token_for(GLOBEX)
    assert await tokens.token_for(INITECH) == "xoxb-initech"  # the other workspace untouched

    # Another replica handled Initech's: Slack's refusal of the token drops it; an unrelated error does not.
    del installed.bots[(None, "T0003")]
    tokens.refused(INITECH, "channel_not_found")
    assert await tokens.token_for(INITECH) == "xoxb-initech"
    tokens.refused(INITECH, "token_revoked")
    with pytest.raises(NotInstalled):
        await tokens.token_for(INITECH)


async def test_a_workspace_not_installed_is_asked_again_so_an_install_elsewhere_is_served_at_once() -> None:
    installed = Installed()
    tokens = InstalledTokens(installed.find_bot, monotonic=Clock())
    with pytest.raises(NotInstalled):
        await tokens.token_for(GLOBEX)
    installed.install("T0002", "xoxb-globex")  # on another replica
    assert await tokens.token_for(GLOBEX) == "xoxb-globex"
    with pytest.raises(NotInstalled):
        await tokens.token_for(WorkspaceRef())  # no workspace named: never a guess


async def test_a_grid_workspace_is_served_by_its_orgs_org_wide_install_also_for_later_work() -> None:
    installed = Installed()
    installed.install(None, "xoxb-org", enterprise_id="E0001")
    tokens = InstalledTokens(installed.find_bot, monotonic=Clock())
    from_a_request = WorkspaceRef(team_id="T0009", enterprise_id="E0001", is_enterprise_install=True)
    assert await tokens.token_for(from_a_request) == "xoxb-org"
    # A job's later step names its team and the org the job recorded, in any process: no memory of requests.
    later = InstalledTokens(installed.find_bot, monotonic=Clock())
    assert await later.token_for(WorkspaceRef(team_id="T0009", enterprise_id="E0001")) == "xoxb-org"
    later.forget("E0001", None)  # the org uninstalled: every workspace of it goes
    del installed.bots[("E0001", None)]
    with pytest.raises(NotInstalled):
        await later.token_for(WorkspaceRef(team_id="T0009", enterprise_id="E0001"))


async def test_one_workspace_is_the_same_path_with_one_token_and_one_set_of_buckets() -> None:
    single = SingleToken("xoxb-only")
    assert await single.token_for(GLOBEX) == await single.token_for(WorkspaceRef()) == "xoxb-only"
    assert single.pacing_key(GLOBEX) == single.pacing_key(INITECH) == ""


async def test_a_busy_workspace_never_slows_another() -> None:
    tokens = InstalledTokens(Installed().find_bot)
    pacer = Pacer(scope=lambda: tokens.pacing_key(current_workspace()))
    # Globex spends its users.info burst and has a call waiting.
    with acting_for(GLOBEX):
        [lane] = pacer.lanes_for("users.info")
        while await lane.take_now():
            pass
        waiting = asyncio.get_running_loop().create_task(pacer.turn("users.info", "", Ticket(Priority.URGENT)))
        await asyncio.sleep(0)
        assert not waiting.done()
    # Initech's call goes at once: buckets of its own.
    with acting_for(INITECH):
        [other] = pacer.lanes_for("users.info")
        assert other is not lane and await other.take_now()
    waiting.cancel()
    await pacer.close()
    # With one workspace every call shares the one set, whoever it is for.
    single = Pacer(scope=lambda: SingleToken("x").pacing_key(current_workspace()))
    with acting_for(GLOBEX):
        [first] = single.lanes_for("users.info")
    with acting_for(INITECH):
        [second] = single.lanes_for("users.info")
    assert first is second


BASE = {"PERF_API_KEY": "pk_test_abc123", "SLACK_SIGNING_SECRET": "s1gning-secret-value"}
MANY = {**BASE, "SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "c1ient-secret-value"}


def test_many_workspaces_need_no_bot_token_but_an_encryption_key() -> None:
    key = generate_key()
    settings = load_settings({**MANY, "VIDEOBOT_ENCRYPTION_KEY": key}, dotenv_path=None)
    assert settings.many_workspaces and settings.slack_bot_token == ""
    assert key in settings.secrets() and "c1ient-secret-value" in settings.secrets()

    with pytest.raises(ConfigError) as missing:
        load_settings(MANY, dotenv_path=None)
    assert missing.value.problems == (
        "VIDEOBOT_ENCRYPTION_KEY is not set: it needs at least one key, 32 random bytes in URL-safe base64",
    )
    with pytest.raises(ConfigError) as malformed:
        load_settings({**MANY, "VIDEOBOT_ENCRYPTION_KEY": "not-a-key"}, dotenv_path=None)
    [line] = malformed.value.problems
    assert line.startswith("VIDEOBOT_ENCRYPTION_KEY") and "not-a-key" not in line


def test_one_of_the_client_id_and_secret_alone_is_refused_naming_the_other() -> None:
    with pytest.raises(ConfigError) as only_id:
        load_settings({**BASE, "SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_CLIENT_ID": "1111.2222"}, dotenv_path=None)
    assert any(line.startswith("SLACK_CLIENT_SECRET is not set") for line in only_id.value.problems)
    with pytest.raises(ConfigError) as bad_id:
        load_settings({**MANY, "SLACK_CLIENT_ID": "abc", "VIDEOBOT_ENCRYPTION_KEY": generate_key()}, dotenv_path=None)
    assert any(line.startswith("SLACK_CLIENT_ID must be") for line in bad_id.value.problems)


def test_one_workspace_stays_the_default_and_needs_no_key() -> None:
    settings = load_settings({**BASE, "SLACK_BOT_TOKEN": "xoxb-1-abc"}, dotenv_path=None)
    assert not settings.many_workspaces and settings.encryption_key == ""
    with pytest.raises(ConfigError) as no_token:
        load_settings(BASE, dotenv_path=None)
    assert any(line.startswith("SLACK_BOT_TOKEN is not set") for line in no_token.value.problems)


@pytest.mark.parametrize(
    "token", ["xoxb-2-T0002-fake-bot-token", "xoxe.xoxp-1-refreshabc", "xoxe-1-refresh", "xoxp-1-user-token"]
)
def test_a_workspaces_token_is_redacted_by_its_shape(token: str) -> None:
    record = logging.LogRecord("slack_sdk", logging.DEBUG, __file__, 1, "body: %s", ({"access_token": token},), None)
    RedactSecrets(()).filter(record)
    assert token not in record.getMessage() and "redacted" in record.getMessage()


def test_many_workspaces_run_without_an_operator_perf_key_one_workspace_does_not() -> None:
    keyless = {k: v for k, v in MANY.items() if k != "PERF_API_KEY"}
    settings = load_settings({**keyless, "VIDEOBOT_ENCRYPTION_KEY": generate_key()}, dotenv_path=None)
    assert settings.many_workspaces and settings.perf_api_key == ""
    [line] = asyncio.run(_perf_check_line(settings))
    assert line == "ok   perf: no operator key: workspaces pay with their own"

    single = {k: v for k, v in BASE.items() if k != "PERF_API_KEY"}
    with pytest.raises(ConfigError) as no_key:
        load_settings({**single, "SLACK_BOT_TOKEN": "xoxb-1-abc"}, dotenv_path=None)
    assert any(line.startswith("PERF_API_KEY is not set") for line in no_key.value.problems)


async def _perf_check_line(settings: Settings) -> list[str]:
    """`videobot check`'s Perf line, as the operator reads it."""
    from bot.runtime import ops

    return [line.render() for line in [await ops._check_perf(settings)]]
