"""The install pages in a real browser (issue 25): headless Chromium, driven by Selenium, through the install
page → the fake Slack's authorize page → back to videobot → the page the person reads; and one failure.

Debian's `chromium` and `chromium-driver` (`.ci/run` installs them when missing: no browser is downloaded). The
test is skipped, saying why, only where neither is on the machine."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.slack import FakeSlack
from tests.test_installs import Site
from tests.test_installs import site as site  # the fixture: the bot in many-workspaces mode, served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="no Chromium here: install Debian's chromium and chromium-driver (.ci/run does)",
    ),
    # One engine is enough: what is checked is what the browser shows.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.unlimited_slack,
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


async def read(browser: Any, url: str) -> str:
    """Open `url` and return the text the person reads (Selenium blocks: off the loop that serves the pages)."""

    def visit() -> str:
        browser.get(url)
        return str(browser.find_element("tag name", "body").text)

    return await asyncio.to_thread(visit)


async def click_add_to_slack(browser: Any) -> str:
    """Click the install page's link, follow Slack's authorize page back, and return what the person reads."""

    def click() -> str:
        browser.find_element("css selector", "a[href*='/oauth/v2/authorize']").click()
        return str(browser.find_element("tag name", "body").text)

    return await asyncio.to_thread(click)


async def test_installing_in_a_browser_ends_on_the_page_that_says_what_to_do_next(
    site: Site, fake_slack: FakeSlack, browser: Any
) -> None:
    globex = fake_slack.add_workspace("T0002", name="Globex")
    fake_slack.authorize_as(globex)
    await read(browser, site.url + "/slack/install")
    text = await click_add_to_slack(browser)
    assert browser.title == "videobot is installed"
    assert "videobot is installed in Globex." in text
    assert "adds the Perf API key in videobot's App Home" in text
    assert "/video a paper boat on a rainy street" in text
    assert [team for team, _ in fake_slack.installs] == ["T0002"]
    assert site.bot.services.installs is not None
    assert await site.bot.services.installs.installations.async_find_bot(enterprise_id=None, team_id="T0002")


async def test_cancelling_on_slacks_page_ends_on_a_page_that_says_so_and_offers_to_try_again(
    site: Site, fake_slack: FakeSlack, browser: Any
) -> None:
    fake_slack.deny_next_install = True
    await read(browser, site.url + "/slack/install")
    text = await click_add_to_slack(browser)
    assert browser.title == "videobot was not installed"
    assert "The install was cancelled on Slack's page" in text and "Nothing was saved." in text
    # "Try again" starts over: the install page again.
    await asyncio.to_thread(lambda: browser.find_element("link text", "Try again").click())
    assert browser.current_url == site.url + "/slack/install"
    assert fake_slack.installs == []
