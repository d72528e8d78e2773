"""The Slack app manifest is valid against Slack's published schema and asks for no more than it uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Slack's published JSON schema for app manifests, kept beside the tests so they need no network.
SCHEMA = ROOT / "tests" / "data" / "slack-manifest.schema.json"


def load_manifest() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load((ROOT / "manifest.yml").read_text()))


def test_manifest_is_valid_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(load_manifest(), schema)


def test_an_invalid_manifest_is_caught_by_the_same_check() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = load_manifest()
    broken["features"]["slash_commands"][0]["command"] = "video"  # commands start with a slash
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema check let a broken manifest through")


def test_manifest_has_the_command_events_and_only_the_scopes_the_bot_uses() -> None:
    manifest = load_manifest()
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/video"]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "reaction_added",
        "app_home_opened",
        "function_executed",
        "user_change",  # a person's language changed (issue 26)
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "reactions:read",
        "users:read",
        "im:write",
    }


# The scope each Web API method needs, from its page on api.slack.com (None: no scope needed).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "users.info": "users:read",
    "conversations.open": "im:write",
    "views.open": None,
    "views.update": None,
    "views.publish": None,
    "auth.test": None,
    "functions.completeSuccess": None,  # a workflow step is ended with its own token; no scope
    "functions.completeError": None,
}


def test_every_slack_method_the_bot_calls_is_covered_by_a_scope() -> None:
    gateway = "".join(path.read_text() for path in sorted((ROOT / "bot" / "clients").glob("slack*.py")))
    called = set(re.findall(r'_call\(\s*"([a-zA-Z.]+)"', gateway))
    assert called, "no Slack calls found: the pattern no longer matches bot/clients/slack.py"
    assert called <= set(METHOD_SCOPES), f"add the scope of {sorted(called - set(METHOD_SCOPES))} to METHOD_SCOPES"
    granted = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    needed = {METHOD_SCOPES[method] for method in called} - {None}
    assert needed <= granted
