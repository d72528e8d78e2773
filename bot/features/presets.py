"""Presets (issue 28): `/video preset list | save | delete`, and the preset a new request names.

The rule (typed > preset > defaults) is bot.domain.defaults; what a preset is, its names and which one a
name means is bot.domain.presets; this reads and writes them, and checks who may change a channel's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain import defaults as rule
from bot.domain import presets
from bot.domain.clock import Clock
from bot.domain.request import CommandError, PresetRequest
from bot.features.people import People
from storage.db import Store

log = logging.getLogger("videobot.presets")


class PresetService:
    def __init__(self, store: Store, people: People, clock: Clock) -> None:
        self._store = store
        self._people = people
        self._clock = clock

    async def names(self, team_id: str, channel_id: str, user_id: str) -> tuple[str, ...]:
        """The names a person may pick here (the form's menu)."""
        return tuple(presets.names(await self._store.presets_for(team_id, channel_id, user_id)))

    async def options(self, team_id: str, name: str, channel_id: str, user_id: str) -> Mapping[str, str] | None:
        """The settings of the preset `name` means for this person here (None: there is none by that name)."""
        found = presets.find(await self._store.presets_for(team_id, channel_id, user_id), name)
        return None if found is None else found.options

    async def answer(self, team_id: str, asked: PresetRequest, channel_id: str, user_id: str) -> messages.Message:
        if asked.action == "list":
            found = await self._store.presets_for(team_id, channel_id, user_id)
            return messages.preset_list(found, presets.shadowed(found))
        name = presets.normalized(asked.name)
        if problem := presets.name_problem(name):
            return messages.preset_name_refused(asked.name, problem, action=asked.action)
        if asked.channel and (refused := await self._refuse_non_admin(team_id, channel_id, user_id)):
            return refused
        scope, owner = (presets.CHANNEL, channel_id) if asked.channel else (presets.PERSON, user_id)
        if asked.action == "delete":
            existed = await self._store.delete_preset(team_id, scope, owner, name)
            log.info("event=preset_deleted scope=%s owner=%s by=%s existed=%s", scope, owner, user_id, existed)
            return messages.preset_deleted(name, channel=asked.channel, existed=existed)
        return await self._save(team_id, scope, owner, name, asked, channel_id, user_id)

    async def _save(
        self, team_id: str, scope: str, owner: str, name: str, asked: PresetRequest, channel_id: str, user_id: str
    ) -> messages.Message:
        if not asked.options:
            return messages.preset_empty()
        # Checked as typed options are, and spelt as the catalogue spells them (`--ar 9x16` is `9:16`).
        options = rule.new_defaults(None, asked.options)
        if isinstance(options, CommandError):
            return messages.command_error(options)
        found = await self._store.presets_for(team_id, channel_id, user_id)
        same_scope = [p for p in found if p.scope == scope]
        replaced = any(p.name == name for p in same_scope)
        if not replaced and len(same_scope) >= presets.MAX_PRESETS_PER_OWNER:
            return messages.preset_too_many(presets.MAX_PRESETS_PER_OWNER)
        preset = presets.Preset(name, scope, options, user_id, self._clock.now())
        await self._store.save_preset(team_id, owner, preset)
        log.info("event=preset_saved scope=%s owner=%s by=%s options=%s", scope, owner, user_id, sorted(options))
        shadows = scope == presets.PERSON and any(p.name == name and p.scope == presets.CHANNEL for p in found)
        return messages.preset_saved(preset, replaced=replaced, shadows_channel=shadows)

    async def _refuse_non_admin(self, team_id: str, channel_id: str, user_id: str) -> messages.Message | None:
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            log.warning("event=preset_admin_unchecked user=%s error=%s", user_id, exc.error)
            return messages.admin_unchecked()
        if not person.runs_the_workspace:
            log.info("event=preset_change_refused channel=%s user=%s", channel_id, user_id)
            return messages.presets_admins_only()
        return None
