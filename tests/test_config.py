"""Settings are checked at start, and each mistake names the variable and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.config import ConfigError, load_database_url, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PERF_API_KEY": "pk_test_1"}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.perf_api_url == "https://api.withperf.pro"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///videobot.db"
    assert settings.media_hosts == ("storage.withperf.pro",)
    assert settings.port == 3000 and not settings.socket_mode
    # Health and metrics on loopback; a request has 10 s to arrive, each port takes 256 connections.
    assert (settings.health_host, settings.health_port) == ("127.0.0.1", 8081)
    assert (settings.http_read_timeout_seconds, settings.http_max_connections) == (10.0, 256)


def test_the_health_address_may_be_opened_or_be_ipv6() -> None:
    assert load_settings({**BASE, "VIDEOBOT_HEALTH_ADDRESS": "0.0.0.0:9090"}).health_port == 9090
    settings = load_settings({**BASE, "VIDEOBOT_HEALTH_ADDRESS": "[::1]:8081"})
    assert (settings.health_host, settings.health_port) == ("::1", 8081)


def test_socket_mode_needs_no_signing_secret() -> None:
    env = {**BASE, "SLACK_APP_TOKEN": "xapp-1"}
    del env["SLACK_SIGNING_SECRET"]
    assert load_settings(env).socket_mode


def test_absolute_database_path_and_media_hosts() -> None:
    settings = load_settings(
        {**BASE, "DATABASE_URL": "sqlite:////data/v.db", "VIDEOBOT_MEDIA_HOSTS": "a.example, 127.0.0.1:9000"}
    )
    assert settings.database_url == "sqlite:////data/v.db"
    assert settings.media_hosts == ("a.example", "127.0.0.1:9000")


def test_rerun_emoji_are_names_with_or_without_colons() -> None:
    assert load_settings(BASE).rerun_emoji == ("repeat",)
    settings = load_settings({**BASE, "VIDEOBOT_RERUN_EMOJI": ":Repeat:, arrows_counterclockwise,repeat"})
    assert settings.rerun_emoji == ("repeat", "arrows_counterclockwise")


def test_retention_keeps_400_days_by_default_and_0_keeps_everything() -> None:
    assert load_settings(BASE).retention_days == 400
    assert load_settings({**BASE, "VIDEOBOT_RETENTION_DAYS": "0"}).retention_days == 0
    assert load_settings({**BASE, "VIDEOBOT_RETENTION_DAYS": "7"}).retention_days == 7


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({"PERF_API_KEY": " "}, "PERF_API_KEY"),
        ({"PERF_API_URL": "api.withperf.pro"}, "PERF_API_URL"),
        ({"DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u:p@h"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"VIDEOBOT_MEDIA_HOSTS": "https://x.example/path"}, "VIDEOBOT_MEDIA_HOSTS"),
        ({"VIDEOBOT_POLL_MIN_SECONDS": "0"}, "VIDEOBOT_POLL_MIN_SECONDS"),
        ({"VIDEOBOT_POLL_MIN_SECONDS": "20", "VIDEOBOT_POLL_MAX_SECONDS": "15"}, "VIDEOBOT_POLL_MIN_SECONDS"),
        ({"VIDEOBOT_POLL_TICK_SECONDS": "10"}, "VIDEOBOT_LEASE_SECONDS"),
        ({"VIDEOBOT_LEASE_SECONDS": "4", "VIDEOBOT_POLL_TICK_SECONDS": "1"}, "VIDEOBOT_LEASE_SECONDS"),
        ({"VIDEOBOT_LOG_LEVEL": "LOUD"}, "VIDEOBOT_LOG_LEVEL"),
        ({"VIDEOBOT_RERUN_EMOJI": "🔁"}, "VIDEOBOT_RERUN_EMOJI"),
        ({"VIDEOBOT_RERUN_EMOJI": ":,:"}, "VIDEOBOT_RERUN_EMOJI"),
        ({"VIDEOBOT_RETENTION_DAYS": "a year"}, "VIDEOBOT_RETENTION_DAYS"),
        ({"VIDEOBOT_RETENTION_DAYS": "-1"}, "VIDEOBOT_RETENTION_DAYS"),
        ({"VIDEOBOT_RETENTION_DAYS": "3"}, "VIDEOBOT_RETENTION_DAYS"),
        ({"VIDEOBOT_HEALTH_ADDRESS": "8081"}, "VIDEOBOT_HEALTH_ADDRESS"),
        ({"VIDEOBOT_HEALTH_ADDRESS": "localhost:99999"}, "VIDEOBOT_HEALTH_ADDRESS"),
        ({"VIDEOBOT_HEALTH_ADDRESS": "http://127.0.0.1:8081"}, "VIDEOBOT_HEALTH_ADDRESS"),
        ({"VIDEOBOT_HTTP_MAX_CONNECTIONS": "0"}, "VIDEOBOT_HTTP_MAX_CONNECTIONS"),
        ({"VIDEOBOT_HTTP_READ_TIMEOUT_SECONDS": "forever"}, "VIDEOBOT_HTTP_READ_TIMEOUT_SECONDS"),
    ],
)
def test_a_bad_setting_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **change})
    message = str(caught.value)
    assert message.startswith(named) or f" {named} " in f" {message} "
    assert "u:p@" not in message, "a database password must not be echoed"


def test_a_lease_of_five_ticks_or_more_is_accepted() -> None:
    settings = load_settings({**BASE, "VIDEOBOT_LEASE_SECONDS": "50", "VIDEOBOT_POLL_TICK_SECONDS": "10"})
    assert (settings.lease_seconds, settings.poll_tick_seconds) == (50, 10)


def test_the_lease_message_says_what_to_raise_it_to() -> None:
    with pytest.raises(ConfigError, match=r"raise it to 50 or more"):
        load_settings({**BASE, "VIDEOBOT_POLL_TICK_SECONDS": "10"})


@pytest.mark.parametrize(
    ("name", "pasted"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-…"),
        ("SLACK_BOT_TOKEN", "xoxb-..."),
        ("SLACK_BOT_TOKEN", "xoxb-"),
        ("SLACK_BOT_TOKEN", "<your bot token>"),
        ("SLACK_BOT_TOKEN", "xoxb-your-bot-token"),
        ("SLACK_SIGNING_SECRET", "changeme"),
        ("SLACK_APP_TOKEN", "xapp-…"),
        ("PERF_API_KEY", "pk_live_xxxxxxxx"),
        ("PERF_API_KEY", "your-perf-key"),
    ],
)
def test_a_placeholder_left_in_a_secret_is_named_without_its_value(name: str, pasted: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: pasted})
    assert caught.value.problems == (str(caught.value),), "one line"
    assert str(caught.value).startswith(f"{name} is still a placeholder")
    assert pasted not in str(caught.value).replace("xoxb-…", "").replace("xapp-…", "")


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        ("xoxb-1234-5678-abcd # from the OAuth page", "has a # comment after its value"),
        ("xoxb-1234-5678-abcd#bot", "has a # comment after its value"),
        ("xoxb-1234\u20135678-abcd", "contains a non-ASCII character"),
        ("xoxb-1234-5678\u00a0abcd", "contains a non-ASCII character"),
        ("xoxb-1234 5678", "contains a space"),
    ],
)
def test_a_comment_a_typographic_character_or_a_space_in_a_token_is_one_line(pasted: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "SLACK_BOT_TOKEN": pasted})
    assert str(caught.value).startswith(f"SLACK_BOT_TOKEN {says}")
    assert "1234" not in str(caught.value), "a token is never echoed"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "SLACK_BOT_TOKEN": "xoxb-…",
                "PORT": "eighty",
                "VIDEOBOT_TIMEZONE": "Mars/Olympus",
                "DATABASE_URL": "postgresql://u:p@db:54x2/videobot",
                "VIDEOBOT_APPROVERS": "bob",
            }
        )
    named = [problem.split(" ", 1)[0] for problem in caught.value.problems]
    assert named == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "PERF_API_KEY",
        "DATABASE_URL",
        "PORT",
        "VIDEOBOT_TIMEZONE",
        "VIDEOBOT_APPROVERS",
    ]


@pytest.mark.parametrize("url", ["postgresql://u:p@db:54x2/videobot", "postgresql://u:p@db:99999/videobot"])
def test_a_database_url_with_a_malformed_port_is_one_line_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "DATABASE_URL": url})
    assert caught.value.problems == (str(caught.value),)
    assert "the port after the host is not a number" in str(caught.value) and "u:p@" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("DATABASE_URL", "postgresql://u:p@[::1/videobot"),
        ("PERF_API_URL", "https://[::1/v1"),
        ("SLACK_API_URL", "https://[fe80::1/api/"),
    ],
)
def test_a_url_urllib_cannot_split_is_one_line_naming_its_setting(name: str, url: str) -> None:
    # urlsplit raises ValueError("Invalid IPv6 URL") for these: it was a traceback, from run, check and the
    # database-only commands alike.
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: url})
    assert caught.value.problems == (str(caught.value),)
    assert name in str(caught.value) and "u:p@" not in str(caught.value)
    if name == "DATABASE_URL":
        with pytest.raises(ConfigError):
            load_database_url({name: url})


def test_real_looking_secrets_pass() -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "SLACK_APP_TOKEN": "xapp-1-A0123ABCD-1234567890123-0123456789abcdef",
            "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
            "PERF_API_KEY": "pk_live_Xy7Q2mN9",
        }
    )
    assert settings.socket_mode and settings.perf_api_key == "pk_live_Xy7Q2mN9"


@pytest.mark.parametrize(
    ("name", "pasted"),
    [
        ("PERF_API_URL", "pk_live_0123456789abcdef"),
        ("VIDEOBOT_TIMEZONE", "xoxb-1234567890-1234567890123-AbCdEfGhIjKl"),
        ("VIDEOBOT_HEALTH_ADDRESS", "xapp-1-A0123ABCD-1234567890123-0123456789abcdef"),
        ("VIDEOBOT_REPORT_CHANNEL", "https://hooks.slack.com/services/T0/B0/SECRETPART"),
    ],
)
def test_a_token_pasted_into_another_setting_is_named_without_showing_it(name: str, pasted: str) -> None:
    # Settings that are not secrets quote what they got (a misspelt time zone is easier to see), but never
    # a credential: a line on a terminal or in a supervisor's log is no place for one.
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: pasted})
    assert name in str(caught.value)
    for part in ("0123456789abcdef", "AbCdEfGhIjKl", "SECRETPART"):
        assert part not in str(caught.value)


def test_a_dotenv_saved_in_another_encoding_is_one_line_naming_its_line(tmp_path: Path) -> None:
    # Saved by an editor in Windows-1252: python-dotenv's UnicodeDecodeError was a traceback from every command.
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"# settings\nPERF_API_KEY=pk_live_abc\xe9def\nSLACK_BOT_TOKEN=xoxb-1-2-abcdef\n")
    for load in (load_settings, load_database_url):
        with pytest.raises(ConfigError) as caught:
            load(None, str(dotenv))
        assert caught.value.problems == (
            f"{dotenv} is not UTF-8 text (line 2 has a character in another "
            "encoding): save it as UTF-8, or type that line again",
        )
