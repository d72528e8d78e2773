"""Who someone is in Slack (a person or a bot, an admin or not), asked once and remembered a while; and answers
that name many people, given within a command's ack and completed through its response_url."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from bot import messages
from bot.clients.pacing import Priority
from bot.clients.slack import SlackCallError, SlackGateway, SlackUser
from bot.domain.clock import Clock
from storage.db import Store

log = logging.getLogger("videobot.people")

# Long enough that a burst of reactions or commands costs one users.info per person (Tier 4 allows
# 100 a minute), short enough that a demoted admin or a deactivated account is noticed within minutes.
CACHE_SECONDS = 600.0
# An answer within a command's ack looks up at most this many names it has not cached, and for at most this
# long (Slack gives the ack 3 s); the others follow through the response_url. 40 names at Tier 4's pace
# took 19 s, long after Slack had told the person the command failed.
NAMES_IN_ACK = 3
ACK_LOOKUP_SECONDS = 1.0
# A person's language (their Slack locale) is asked again after a day, or when Slack says their profile
# changed (user_change): at most one users.info a person a day for it, and never in front of an ack.
LOCALE_SECONDS = 86_400.0
# After users.info failed for a locale, it is asked again no sooner than this.
LOCALE_RETRY_SECONDS = 600.0


class People:
    def __init__(
        self, slack: SlackGateway, clock: Clock, cache_seconds: float = CACHE_SECONDS, store: Store | None = None
    ) -> None:
        self._slack = slack
        self._clock = clock
        self._cache_seconds = cache_seconds
        # Keyed by workspace and person: the same user id in two workspaces is two people.
        self._known: dict[tuple[str, str], tuple[float, SlackUser]] = {}
        self._store = store
        # (workspace, person) → (when their locale was asked, or is due again less a day; their Slack locale)
        self._locales: dict[tuple[str, str], tuple[float, str]] = {}
        self._asking: dict[tuple[str, str], asyncio.Task[None]] = {}

    # --- the language a person reads ----------------------------------------------------------------------

    async def language(self, team_id: str, user_id: str) -> str | None:
        """The person's Slack locale as a real one (`es-LA` is `es-419`), as remembered: None for a person
        never asked. Never waits for Slack: a person not known, or asked more than a day ago, is asked in
        the background, and is answered in the workspace's language meanwhile (once, at most)."""
        key = (team_id, user_id)
        remembered = self._locales.get(key)
        if remembered is None and self._store is not None:
            stored = await self._store.locale_of(team_id, user_id)
            if stored is not None:
                remembered = self._locales[key] = (stored[1], stored[0])
        if remembered is None or self._clock.now() - remembered[0] >= LOCALE_SECONDS:
            self._ask_later(team_id, user_id)
        return messages.slack_locale(remembered[1]) if remembered else None

    def language_known(self, team_id: str, user_id: str) -> str | None:
        """The person's language as this process remembers it; never waits (App Home's refreshes, which no
        request of theirs started)."""
        remembered = self._locales.get((team_id, user_id))
        return messages.slack_locale(remembered[1]) if remembered else None

    def profile_changed(self, team_id: str, user: Mapping[str, object]) -> None:
        """Slack's user_change: the person may have changed their language. The event's own `locale` when it
        carries one, else users.info (in the background)."""
        user_id = str(user.get("id") or "")
        if not user_id:
            return
        self._known.pop((team_id, user_id), None)
        locale = user.get("locale")
        if isinstance(locale, str) and locale:
            self._remember(team_id, user_id, locale)
            return
        self._locales.pop((team_id, user_id), None)
        self._ask_later(team_id, user_id, again=True)

    def _ask_later(self, team_id: str, user_id: str, *, again: bool = False) -> None:
        key = (team_id, user_id)
        if key in self._asking and not again:
            return
        self._track(key, asyncio.get_running_loop().create_task(self._ask(team_id, user_id)))

    def _track(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        """Keep `task` until it ends (wait_idle, close), as the one in flight for this person."""
        self._asking[key] = task

        def ended(done: asyncio.Task[None]) -> None:
            if self._asking.get(key) is done:
                del self._asking[key]

        task.add_done_callback(ended)

    async def _ask(self, team_id: str, user_id: str) -> None:
        try:
            # BACKGROUND: nobody waits on it, so it never stands in front of an admin's click.
            user = await self._slack.user_info(user_id, Priority.BACKGROUND)
        except SlackCallError as exc:
            log.info("event=locale_unknown user=%s error=%s", user_id, exc.error)
            old = self._locales.get((team_id, user_id), (0.0, ""))[1]
            self._locales[(team_id, user_id)] = (self._clock.now() - LOCALE_SECONDS + LOCALE_RETRY_SECONDS, old)
            return
        except Exception as exc:  # a background lookup: the person is answered in the workspace's language
            log.warning("event=locale_lookup_failed user=%s error=%s", user_id, type(exc).__name__)
            return
        await self._remember_stored(team_id, user_id, user.locale)

    def _remember(self, team_id: str, user_id: str, locale: str) -> None:
        self._track(
            (team_id, user_id), asyncio.get_running_loop().create_task(self._remember_stored(team_id, user_id, locale))
        )

    async def _remember_stored(self, team_id: str, user_id: str, locale: str) -> None:
        now = self._clock.now()
        self._locales[(team_id, user_id)] = (now, locale)
        if self._store is not None:
            try:
                await self._store.set_locale(team_id, user_id, locale, now)
            except Exception as exc:  # remembered in memory: the next process asks Slack again
                log.warning("event=locale_not_stored user=%s error=%s", user_id, type(exc).__name__)

    async def wait_idle(self) -> None:
        while pending := [task for task in self._asking.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._asking.values()):
            task.cancel()
        await asyncio.gather(*list(self._asking.values()), return_exceptions=True)

    def known(self, user_id: str, *, team_id: str) -> SlackUser | None:
        """`user_id` of workspace `team_id` as last asked, if that was recently; never calls Slack."""
        cached = self._known.get((team_id, user_id))
        if cached is not None and self._clock.now() - cached[0] < self._cache_seconds:
            return cached[1]
        return None

    async def get(self, user_id: str, priority: Priority = Priority.URGENT, *, team_id: str) -> SlackUser:
        """Raises SlackCallError when Slack cannot say; callers decide whether that refuses or allows."""
        if (user := self.known(user_id, team_id=team_id)) is not None:
            return user
        user = await self._slack.user_info(user_id, priority)
        self._known[(team_id, user_id)] = (self._clock.now(), user)
        return user

    def known_names(self, user_ids: Iterable[str], *, team_id: str) -> dict[str, str]:
        """The names already known of `user_ids` in workspace `team_id`; never calls Slack."""
        known = ((user_id, self.known(user_id, team_id=team_id)) for user_id in user_ids)
        return {user_id: user.name for user_id, user in known if user is not None}

    async def names(
        self, user_ids: Iterable[str], priority: Priority = Priority.URGENT, *, team_id: str
    ) -> dict[str, str]:
        """The names people see, for those Slack could name; an id Slack could not is left out."""
        names: dict[str, str] = {}
        for user_id in user_ids:
            try:
                names[user_id] = (await self.get(user_id, priority, team_id=team_id)).name
            except SlackCallError:
                continue
        return names


Render = Callable[[Mapping[str, str]], messages.Message]


class NamedAnswers:
    """Answers that name people (`/video report`): what fits in the ack now, every name soon after.

    The ack carries the names cached and a few more; the rest are looked up behind everything a person is
    waiting for (BACKGROUND: an admin's Approve never queues behind a report's forty names), and the whole
    answer then replaces the first through the command's response_url."""

    def __init__(self, people: People, slack: SlackGateway) -> None:
        self._people = people
        self._slack = slack
        self._pending: set[asyncio.Task[None]] = set()

    async def answer(
        self, user_ids: Iterable[str], render: Render, response_url: str, *, team_id: str
    ) -> messages.Message:
        ids = list(dict.fromkeys(user_ids))
        names = self._people.known_names(ids, team_id=team_id)
        unknown = [user_id for user_id in ids if user_id not in names]
        try:
            async with asyncio.timeout(ACK_LOOKUP_SECONDS):
                for user_id in unknown[:NAMES_IN_ACK]:
                    try:
                        names[user_id] = (await self._people.get(user_id, team_id=team_id)).name
                    except SlackCallError:
                        names[user_id] = user_id  # Slack cannot name them: the id stands for itself
        except TimeoutError:
            pass
        later = [user_id for user_id in unknown if user_id not in names]
        if not later or not response_url:
            return render(names)
        follow_up = self._follow_up(later, names, render, response_url, team_id)
        task = asyncio.get_running_loop().create_task(follow_up)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return messages.names_pending(render(names), len(later))

    async def _follow_up(
        self, later: list[str], names: dict[str, str], render: Render, response_url: str, team_id: str
    ) -> None:
        try:
            found = await self._people.names(later, Priority.BACKGROUND, team_id=team_id)
            answer = render({**names, **found})
            if not await self._slack.respond(response_url, messages.replacing_the_answer(answer)):
                log.info("event=named_answer_not_sent names=%d", len(later))
        except Exception as exc:  # the ack went out already; a follow-up that fails leaves it standing
            log.warning("event=named_answer_failed error=%s", type(exc).__name__)

    async def wait_idle(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*list(self._pending), return_exceptions=True)
