"""Which video links may be fetched, and how a fetch refuses what it should not follow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.clients.media import CHUNK_BYTES, MediaError, MediaFetcher, refuse_reason

ALLOWED = ("storage.withperf.pro", "127.0.0.1:8123")


@pytest.mark.parametrize(
    "url",
    [
        "https://storage.withperf.pro/videos/job_vid_1.mp4",
        "https://STORAGE.withperf.pro:443/videos/a.mp4",
        "http://127.0.0.1:8123/videos/a.mp4",
    ],
)
def test_allowed_links(url: str) -> None:
    assert refuse_reason(url, ALLOWED) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example.com/a.mp4", "not an allowed media host"),
        ("http://storage.withperf.pro/a.mp4", "plain http"),
        ("https://storage.withperf.pro:8443/a.mp4", "not an allowed media host"),
        ("https://storage.withperf.pro.evil.com/a.mp4", "not an allowed media host"),
        ("https://user:pw@storage.withperf.pro/a.mp4", "credentials"),
        ("ftp://storage.withperf.pro/a.mp4", "not an http(s) URL"),
        ("https://93.184.216.34/a.mp4", "not an allowed media host"),
        ("http://127.0.0.1:9999/a.mp4", "not an allowed media host"),
        ("https://[::1/a.mp4", "not a valid URL"),
        ("not a url", "not an http(s) URL"),
    ],
)
def test_refused_links_say_why(url: str, why: str) -> None:
    reason = refuse_reason(url, ALLOWED)
    assert reason is not None and why in reason


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://evil.example.com/v.mp4"})

    fetcher = MediaFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)), ALLOWED, 10_000_000)
    with pytest.raises(MediaError, match=r"evil\.example\.com, which is not an allowed media host"):
        async with fetcher.open("https://storage.withperf.pro/videos/a.mp4"):
            pass
    assert requested == ["https://storage.withperf.pro/videos/a.mp4"]


async def test_a_video_over_the_size_limit_is_not_downloaded_but_may_be_linked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2000, headers={"Content-Length": "2000"})

    fetcher = MediaFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)), ALLOWED, 1000)
    with pytest.raises(MediaError, match="VIDEOBOT_MAX_VIDEO_MB") as caught:
        async with fetcher.open("https://storage.withperf.pro/videos/a.mp4"):
            pass
    assert caught.value.link_allowed and not caught.value.retryable


@pytest.mark.parametrize(
    ("content_type", "video"),
    [
        ("video/mp4", True),
        ("video/webm; codecs=vp9", True),
        ("application/octet-stream", True),
        ("text/html; charset=utf-8", False),
        ("application/json", False),
        ("image/png", False),
    ],
)
async def test_only_a_video_is_taken_from_the_media_host(content_type: str, video: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 100, headers={"Content-Type": content_type})

    fetcher = MediaFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)), ALLOWED, 10_000)
    if video:
        async with fetcher.open("https://storage.withperf.pro/videos/a.mp4") as download:
            assert download.size == 100
        return
    with pytest.raises(MediaError, match="not a video") as caught:
        async with fetcher.open("https://storage.withperf.pro/videos/a.mp4"):
            pass
    assert not caught.value.retryable and not caught.value.link_allowed


async def test_a_video_without_a_length_is_spooled_no_further_than_the_spool_limit() -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent.append(64 * 1024)
            yield b"x" * 64 * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"Content-Type": "video/mp4"})

    fetcher = MediaFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)), ALLOWED, 10**9, 1_000_000)
    with pytest.raises(MediaError, match="VIDEOBOT_MAX_SPOOL_MB") as caught:
        async with fetcher.open("https://storage.withperf.pro/videos/a.mp4"):
            pass
    assert caught.value.link_allowed
    assert sum(sent) <= 1_000_000 + 2 * CHUNK_BYTES
