"""`/video admin`: a workspace's own settings (issue 25), shown to anyone and changed by its admins.

The operator's environment gives the defaults; a workspace admin or owner overrides quotas, budgets, the
approval limit and approvers' channel, the channels videobot works in, reports and retention, for their workspace alone
(bot/domain/workspace_settings.py says which and how a value reads).
"""

from __future__ import annotations

import logging
from typing import Any

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain import workspace_settings
from bot.domain.request import AdminRequest
from bot.domain.settings import Settings
from bot.features.people import People
from bot.jobs.workspace_settings import WorkspaceSettings

log = logging.getLogger("videobot.admin")


def rows(settings: Settings, overrides: dict[str, str]) -> list[tuple[str, Any, bool]]:
    """Each setting a workspace may change: (name, the value that applies, whether the workspace set it)."""
    return [(o.name, getattr(settings, o.field), o.name in overrides) for o in workspace_settings.OVERRIDABLE.values()]


async def help_lines(settings_for: WorkspaceSettings, team_id: str) -> str:
    """What `/video help` adds where the workspace has settings of its own ("" where it has none)."""
    overrides = await settings_for.overrides(team_id)
    if not overrides:
        return ""
    return messages.workspace_settings_help(rows(await settings_for.for_team(team_id), overrides))


async def answer(
    settings_for: WorkspaceSettings, people: People, request: AdminRequest, team_id: str, user_id: str
) -> messages.Message:
    if not settings_for.can_override:
        return messages.workspace_setting_refused(messages.ADMIN_UNAVAILABLE)
    try:
        is_admin = (await people.get(user_id, team_id=team_id)).runs_the_workspace
    except SlackCallError as exc:
        log.info("event=workspace_admin_unchecked user=%s error=%s", user_id, exc.error)
        is_admin = False
    if not request.action:
        overrides = await settings_for.overrides(team_id)
        return messages.workspace_settings_message(
            rows(await settings_for.for_team(team_id), overrides), is_admin=is_admin
        )
    if not is_admin:
        return messages.workspace_setting_refused(messages.ADMIN_ONLY)
    known = workspace_settings.OVERRIDABLE.get(request.name)
    if known is None:
        return messages.unknown_setting(request.name, list(workspace_settings.OVERRIDABLE))
    if request.action == "unset":
        await settings_for.unset(team_id, request.name)
        log.info("event=workspace_setting_unset team=%s name=%s by=%s", team_id, request.name, user_id)
        value = getattr(settings_for.defaults, known.field)
        return messages.workspace_setting_changed(request.name, value, removed=True)
    try:
        value = workspace_settings.parse(request.name, request.value, settings_for.defaults)
    except workspace_settings.BadValue as exc:
        return messages.bad_setting_value(request.name, exc.expected, most=exc.most)
    overrides = {**await settings_for.overrides(team_id), request.name: request.value}
    if workspace_settings.needs_someone_to_ask(workspace_settings.effective(settings_for.defaults, overrides)):
        return messages.workspace_setting_refused(messages.NOBODY_TO_ASK)
    await settings_for.set(team_id, request.name, request.value, by=user_id)
    log.info("event=workspace_setting_set team=%s name=%s by=%s", team_id, request.name, user_id)
    return messages.workspace_setting_changed(request.name, value)
