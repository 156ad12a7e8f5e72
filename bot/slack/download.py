"""Download a file a user shared, with the bot token, from Slack's own hosts only."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import aiohttp

from bot import messages

SLACK_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")
MAX_REDIRECTS = 3


class DownloadError(Exception):
    """The file could not be fetched safely; the text says why, for the admin."""


def allowed(url: str, api_origin: str) -> bool:
    """HTTPS on Slack's hosts, or the host of SLACK_API_URL with its own scheme (plain HTTP
    only when SLACK_API_URL itself is plain HTTP: a local test server, never slack.com)."""
    parts, api = urlsplit(url), urlsplit(api_origin)
    host = (parts.hostname or "").lower()
    if host == (api.hostname or "").lower() and parts.scheme in ("https", api.scheme):
        return True
    return parts.scheme == "https" and any(host == h or host.endswith("." + h)
                                           for h in SLACK_HOSTS)


async def download(url: str, *, token: str, api_origin: str, max_bytes: int,
                   total_seconds: float = 30.0) -> bytes:
    """Fetch `url` with the token, following redirects only within allowed hosts and
    stopping as soon as the body is larger than `max_bytes`."""
    client_timeout = aiohttp.ClientTimeout(total=total_seconds)
    async with aiohttp.ClientSession(timeout=client_timeout) as http:
        for _ in range(MAX_REDIRECTS + 1):
            if not allowed(url, api_origin):
                host = urlsplit(url).hostname or url
                raise DownloadError(messages.download_refused_host(host))
            async with http.get(url, headers={"Authorization": f"Bearer {token}"},
                                   allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status != 200:
                    raise DownloadError(messages.download_http_status(response.status))
                if (response.content_length or 0) > max_bytes:
                    raise DownloadError(messages.download_too_large(max_bytes))
                body = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > max_bytes:
                        raise DownloadError(messages.download_too_large(max_bytes))
                return bytes(body)
    raise DownloadError(messages.download_redirects())
