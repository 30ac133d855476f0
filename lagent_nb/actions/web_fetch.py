"""Fetch a web page and keep its readable text.

The download is bounded in time and size, and the text comes from trafilatura (a maintained
boilerplate-removal library): agents need the article, not the menus, and a tool must never hang
or pull a gigabyte into the prompt.
"""

from __future__ import annotations

from typing import Optional, Tuple

import httpx

_TEXT_TYPES = ("text/html", "application/xhtml", "text/plain", "application/xml", "text/xml")


def html_to_text(html: str) -> str:
    """Readable text of an HTML page: the main content when found, else all visible text."""
    try:
        import trafilatura
    except ImportError as exc:  # pragma: no cover - exercised only without the web extra
        raise ImportError(
            "reading web pages needs trafilatura: pip install 'lagent_nb[web]'"
        ) from exc
    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    if not text:
        text = trafilatura.html2txt(html) or ""
    return text.strip()


class ContentFetcher:
    """Downloads pages with bounded waits and size, for both the sync and the async browser.

    Args:
        timeout: seconds for connecting and for each read.
        max_bytes: download at most this much of a page; the rest is ignored.
    """

    def __init__(self, timeout: float = 5.0, max_bytes: int = 2_000_000) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes

    def _decode(self, url: str, status: int, content_type: str, body: bytes) -> Tuple[bool, str]:
        if status >= 400:
            return False, f"fetching {url} failed: HTTP {status}"
        if content_type and not content_type.startswith(_TEXT_TYPES):
            return False, f"{url} is not a text page ({content_type})"
        text = body.decode("utf-8", errors="replace")
        if content_type.startswith("text/plain"):
            return True, text.strip()
        return True, html_to_text(text)

    def _error(self, url: str, exc: Exception) -> Tuple[bool, str]:
        if isinstance(exc, httpx.TimeoutException):
            return False, f"fetching {url} timed out after {self.timeout} s"
        return False, f"fetching {url} failed: {type(exc).__name__}: {exc}"

    def fetch(self, url: str) -> Tuple[bool, str]:
        """``(True, text)`` or ``(False, reason)``; never raises for network trouble."""
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= self.max_bytes:
                        break
                kind = response.headers.get("content-type", "")
                return self._decode(url, response.status_code, kind, bytes(body[: self.max_bytes]))
        except (httpx.HTTPError, ValueError) as exc:
            return self._error(url, exc)

    async def afetch(self, url: str) -> Tuple[bool, str]:
        """The async twin of :meth:`fetch`."""
        try:
            async with (
                httpx.AsyncClient(timeout=self.timeout, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= self.max_bytes:
                        break
                kind = response.headers.get("content-type", "")
                return self._decode(url, response.status_code, kind, bytes(body[: self.max_bytes]))
        except (httpx.HTTPError, ValueError) as exc:
            return self._error(url, exc)


def truncate(text: str, limit: Optional[int]) -> str:
    """Cut ``text`` to ``limit`` characters, saying so, so the LLM knows the page goes on."""
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n…[truncated {len(text) - limit} characters]"
