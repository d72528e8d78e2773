"""Fetching a finished video from Perf's media host, safely and without holding it in memory.

The client here never carries the Perf API key: the key goes to `PERF_API_URL` alone.
"""

from __future__ import annotations

import ipaddress
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from bot.clients.acks_first import acks_first

CHUNK_BYTES = 256 * 1024
_MAX_REDIRECTS = 3
# What a media host may call a video. A generic binary type is taken too (storage buckets often serve an .mp4
# so); a page, an image, JSON or text is not a video, whatever the link says.
VIDEO_TYPES = ("video/",)
BINARY_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


class MediaError(Exception):
    """The video could not be fetched; `str()` says why in words fit for the thread."""

    def __init__(self, message: str, *, retryable: bool = False, link_allowed: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        # True where the link itself is fine to show people (an allowed host), only the bytes are not.
        self.link_allowed = link_allowed


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_reason(url: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """Why `url` must not be fetched, or None when it is on an allowed media host."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "the video link is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "the video link is not an http(s) URL"
    if parts.username or parts.password:
        return "the video link carries credentials"
    if parts.scheme == "http" and not _is_loopback(host):
        return "the video link is plain http, not https"
    default_port = 443 if parts.scheme == "https" else 80
    effective = port or default_port
    for entry in allowed_hosts:
        entry_host, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_host == host and (int(entry_port) if entry_port else default_port) == effective:
            return None
    return f"the video is on {host}, which is not an allowed media host (VIDEOBOT_MEDIA_HOSTS)"


@dataclass
class Download:
    size: int
    content_type: str
    chunks: AsyncIterator[bytes]


def is_video_type(content_type: str) -> bool:
    kind = content_type.strip().lower()
    return kind.startswith(VIDEO_TYPES) or kind in BINARY_TYPES


class MediaFetcher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        allowed_hosts: tuple[str, ...],
        max_bytes: int,
        max_spool_bytes: int | None = None,
    ) -> None:
        self._http = http
        self._allowed_hosts = allowed_hosts
        self._max_bytes = max_bytes
        # A video without Content-Length is written to the temporary directory first: at most this much of it.
        self._max_spool_bytes = min(max_bytes, max_spool_bytes if max_spool_bytes is not None else max_bytes)

    @staticmethod
    def make_http_client(timeout: float = 60.0) -> httpx.AsyncClient:
        # No default headers: nothing secret can ride along to a media host or an upload URL.
        return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False)

    @asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[Download]:
        """Open the video for streaming; its size is known before the first byte is read.

        A response without Content-Length is spooled to a temporary file first, since Slack's upload
        must be told the length up front.
        """
        await acks_first()
        for _ in range(_MAX_REDIRECTS + 1):
            reason = refuse_reason(url, self._allowed_hosts)
            if reason:
                raise MediaError(reason)
            try:
                request = self._http.build_request("GET", url)
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise MediaError(f"the download failed ({type(exc).__name__})", retryable=True) from None
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                await response.aclose()
                continue
            break
        else:
            raise MediaError("the video link redirected too many times")
        try:
            if response.status_code != 200:
                raise MediaError(
                    f"the media host answered HTTP {response.status_code}",
                    retryable=response.status_code >= 500 or response.status_code == 429,
                )
            content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
            if not is_video_type(content_type):
                raise MediaError(f"the media host sent {content_type[:60] or 'no type'}, not a video")
            length = response.headers.get("content-length")
            if length is not None and length.isdigit():
                size = int(length)
                self._check_size(size)
                yield Download(size, content_type, self._counted(response.aiter_bytes(CHUNK_BYTES), size))
            else:
                with tempfile.TemporaryFile() as spool:
                    size = 0
                    async for chunk in response.aiter_bytes(CHUNK_BYTES):
                        size += len(chunk)
                        self._check_size(size)
                        self._check_spool(size)
                        spool.write(chunk)
                    spool.seek(0)
                    yield Download(size, content_type, _file_chunks(spool))
        except httpx.TransportError as exc:
            raise MediaError(f"the download failed ({type(exc).__name__})", retryable=True) from None
        finally:
            await response.aclose()

    def _check_size(self, size: int) -> None:
        if size > self._max_bytes:
            raise MediaError(
                f"the video is {size / 1e6:.0f} MB, over the {self._max_bytes / 1e6:.0f} MB limit "
                "(VIDEOBOT_MAX_VIDEO_MB)",
                link_allowed=True,
            )

    def _check_spool(self, size: int) -> None:
        if size > self._max_spool_bytes:
            raise MediaError(
                f"the media host did not say the video's size, and it is over the {self._max_spool_bytes / 1e6:.0f} MB "
                "the bot keeps on disk to find out (VIDEOBOT_MAX_SPOOL_MB)",
                link_allowed=True,
            )

    @staticmethod
    async def _counted(chunks: AsyncIterator[bytes], expected: int) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > expected:
                raise MediaError("the media host sent more bytes than it announced", retryable=True)
            yield chunk
        if received != expected:
            raise MediaError(f"the download stopped after {received} of {expected} bytes", retryable=True)


async def _file_chunks(spool: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := spool.read(CHUNK_BYTES):
        yield chunk
