"""Defaults that stick: `/video defaults` (show, set, clear) and applying them to a new request.

The rule itself (typed > yours > the channel's > Perf's, and what is skipped) is bot.domain.defaults;
this reads and writes the stored defaults around it, and checks who may set a channel's.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.clients.slack import SlackCallError
from bot.domain import defaults as rule
from bot.domain import presets
from bot.domain.clock import Clock
from bot.domain.request import CommandError, DefaultsRequest, ErrorCode, VideoRequest
from bot.features.people import People
from storage.db import Store
from storage.defaults import CHANNEL_SCOPE, PERSON_SCOPE

log = logging.getLogger("videobot.defaults")
# The key of a channel's language among its stored defaults (`/video defaults --language ja`).
LANGUAGE = "language"


class DefaultsService:
    def __init__(self, store: Store, people: People, clock: Clock) -> None:
        self._store = store
        self._people = people
        self._clock = clock

    async def apply(
        self, team_id: str, request: VideoRequest, channel_id: str, user_id: str
    ) -> rule.Effective | CommandError:
        """`request` with the preset it names, then the person's and the channel's defaults, under what was
        given now; an unknown preset is answered with the names that exist."""
        yours, channel = await self._store.defaults_for(team_id, channel_id, user_id)
        preset = None
        if request.preset:
            found = await self._store.presets_for(team_id, channel_id, user_id)
            named = presets.find(found, request.preset)
            if named is None:
                log.info("event=preset_unknown channel=%s user=%s", channel_id, user_id)
                return CommandError(
                    ErrorCode.UNKNOWN_PRESET, given=request.preset, suggestion=",".join(presets.names(found))
                )
            preset = rule.Defaults(named.options, named.set_by, named.set_at)
        return rule.apply(request, yours, channel, preset)

    async def effective(self, team_id: str, channel_id: str, user_id: str) -> rule.Effective:
        """The settings a new video of this person in this channel starts from ("" : their own alone)."""
        yours, channel = await self._store.defaults_for(team_id, channel_id, user_id)
        found = rule.effective(rule.PLACEHOLDER_PROMPT, {}, yours, channel)
        # Every default was checked on its own before it applied, so nothing typed can be wrong here.
        assert not isinstance(found, CommandError), found
        return found

    async def form_values(self, team_id: str, channel_id: str, user_id: str, prompt: str = "") -> messages.FormValues:
        """What the form opens with: the effective defaults selected."""
        request = (await self.effective(team_id, channel_id, user_id)).request
        return messages.FormValues(
            prompt=prompt,
            model=request.model,
            duration=str(request.duration_seconds),
            resolution=request.resolution,
            aspect_ratio=request.aspect_ratio,
            style=request.style,
        )

    async def answer(self, team_id: str, asked: DefaultsRequest, channel_id: str, user_id: str) -> messages.Message:
        """`/video defaults [me] [clear | --option value …]`."""
        if not asked.clear and not asked.options and not asked.language:
            return messages.defaults_status(
                await self.effective(team_id, channel_id, user_id),
                await self.channel_language(team_id, channel_id, user_id),
            )
        if asked.language and asked.mine:
            return messages.language_is_personal()
        if asked.language and messages.supported(asked.language) is None:
            return messages.language_unknown(asked.language)
        if not asked.mine and (refused := await self._refuse_non_admin(team_id, channel_id, user_id)):
            return refused
        scope, owner = (PERSON_SCOPE, user_id) if asked.mine else (CHANNEL_SCOPE, channel_id)
        if asked.clear:
            had_any = await self._store.clear_defaults(team_id, scope, owner)
            log.info("event=defaults_cleared scope=%s owner=%s by=%s", scope, owner, user_id)
            return messages.defaults_cleared(mine=asked.mine, had_any=had_any)
        return await self._set(team_id, scope, owner, asked, channel_id, user_id)

    async def _set(
        self, team_id: str, scope: str, owner: str, asked: DefaultsRequest, channel_id: str, user_id: str
    ) -> messages.Message:
        yours, channel = await self._store.defaults_for(team_id, channel_id, user_id)
        current = yours if asked.mine else channel
        options = rule.new_defaults(current, asked.options)
        if isinstance(options, CommandError):
            return messages.command_error(options)
        # The channel's language is kept beside its settings, and kept when they change.
        language = messages.supported(asked.language) or (current.options.get(LANGUAGE) if current else None)
        if language and not asked.mine:
            options[LANGUAGE] = language
        await self._store.set_defaults(team_id, scope, owner, rule.Defaults(options, user_id, self._clock.now()))
        log.info("event=defaults_set scope=%s owner=%s by=%s options=%s", scope, owner, user_id, sorted(options))
        return messages.defaults_changed(
            await self.effective(team_id, channel_id, user_id),
            mine=asked.mine,
            language=None if asked.mine else await self.channel_language(team_id, channel_id, user_id),
        )

    async def channel_language(self, team_id: str, channel_id: str, user_id: str) -> tuple[str, bool] | None:
        """The language the channel's messages are in, and whether the channel set it (`--language`) rather
        than it being the workspace's; None for no channel (a form opened from nowhere)."""
        if not channel_id:
            return None
        _yours, channel = await self._store.defaults_for(team_id, channel_id, user_id)
        own = channel.options.get(LANGUAGE) if channel else None
        return (messages.resolve(own), bool(own and messages.supported(own)))

    async def _refuse_non_admin(self, team_id: str, channel_id: str, user_id: str) -> messages.Message | None:
        try:
            person = await self._people.get(user_id, team_id=team_id)
        except SlackCallError as exc:
            log.warning("event=defaults_admin_unchecked user=%s error=%s", user_id, exc.error)
            return messages.admin_unchecked()
        if not person.runs_the_workspace:
            log.info("event=defaults_change_refused channel=%s user=%s", channel_id, user_id)
            return messages.defaults_admins_only()
        return None
