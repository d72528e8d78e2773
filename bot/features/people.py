"""Who someone is in Slack (a person or a bot, an admin or not), asked once and remembered a while."""

from __future__ import annotations

from collections.abc import Iterable

from bot.clients.slack import SlackCallError, SlackGateway, SlackUser
from bot.domain.clock import Clock

# Long enough that a burst of reactions or commands costs one users.info per person (Tier 4 allows
# 100 a minute), short enough that a demoted admin or a deactivated account is noticed within minutes.
CACHE_SECONDS = 600.0


class People:
    def __init__(self, slack: SlackGateway, clock: Clock, cache_seconds: float = CACHE_SECONDS) -> None:
        self._slack = slack
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._known: dict[str, tuple[float, SlackUser]] = {}

    async def get(self, user_id: str) -> SlackUser:
        """Raises SlackCallError when Slack cannot say; callers decide whether that refuses or allows."""
        now = self._clock.now()
        cached = self._known.get(user_id)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        user = await self._slack.user_info(user_id)
        self._known[user_id] = (now, user)
        return user

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The names people see, for those Slack could name; an id Slack could not is left out."""
        names: dict[str, str] = {}
        for user_id in user_ids:
            try:
                names[user_id] = (await self.get(user_id)).name
            except SlackCallError:
                continue
        return names
