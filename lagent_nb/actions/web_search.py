"""Web search providers for :class:`~lagent_nb.actions.web_browser.WebBrowser`.

Each provider is written sans-IO: :meth:`BaseSearch.build_request` says what to send and
:meth:`BaseSearch.parse` turns the provider's documented response format into hits. The sync
and async entry points (:meth:`BaseSearch.search` / :meth:`BaseSearch.asearch`) only differ in
how they wait, so the two can never drift apart.

Every provider takes its endpoint as an argument (so tests and self-hosted mirrors can point it
at loopback) and its key as an argument or an environment variable. Keys are sent as headers
only; they never appear in results, reprs or error messages.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs, urlparse

import httpx

#: (url, snippet, title)
Hit = Tuple[str, str, str]

DEFAULT_BLACK_LIST = ["enoN", "youtube.com", "bilibili.com", "researchgate.net"]


class SearchError(RuntimeError):
    """A search failed; the message names the provider and endpoint, never the key."""


@dataclass
class SearchRequest:
    """One HTTP request, described as data so both the sync and async client can send it."""

    method: str
    url: str
    params: Dict[str, Any] = field(default_factory=dict)
    headers: Dict[str, str] = field(default_factory=dict)
    json: Optional[Dict[str, Any]] = None
    data: Optional[Dict[str, Any]] = None

    def kwargs(self) -> Dict[str, Any]:
        return {
            "params": self.params or None,
            "headers": self.headers,
            "json": self.json,
            "data": self.data,
        }


def _is_retryable(exc: Exception) -> bool:
    """Transport errors and 5xx/429 answers may pass; other 4xx (bad key, bad query) will not."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, httpx.TransportError)


class BaseSearch:
    """Common behaviour: the black list, de-duplication, ``topk`` and bounded retries.

    Args:
        topk: how many hits to keep.
        black_list: substrings of URLs to drop (video sites and the like).
        timeout: seconds for connecting and for reading each response.
        max_retry: attempts in all, for transport errors and 5xx/429 answers.
        endpoint: the provider URL; defaults to the public service.
    """

    name: ClassVar[str] = "base"
    default_endpoint: ClassVar[str] = ""
    key_env: ClassVar[Optional[str]] = None
    needs_key: ClassVar[bool] = False

    def __init__(
        self,
        topk: int = 3,
        black_list: Optional[List[str]] = None,
        *,
        timeout: float = 10.0,
        max_retry: int = 3,
        endpoint: Optional[str] = None,
        api_key: Optional[str] = None,
        proxy: Optional[str] = None,
    ) -> None:
        self.topk = topk
        self.black_list = list(DEFAULT_BLACK_LIST if black_list is None else black_list)
        self.timeout = timeout
        self.max_retry = max(1, max_retry)
        self.endpoint = endpoint or self.default_endpoint
        self.proxy = proxy
        self._api_key = api_key or (os.environ.get(self.key_env) if self.key_env else None)
        if self.needs_key and not self._api_key:
            raise ValueError(
                f"{type(self).__name__} needs an API key: pass api_key=... or set ${self.key_env}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r}, topk={self.topk})"

    # -- sans-IO part -----------------------------------------------------------------------
    def build_request(self, query: str) -> SearchRequest:
        raise NotImplementedError

    def parse(self, response: httpx.Response) -> List[Hit]:
        """Hits from a provider answer; a malformed answer raises ``SearchError``."""
        try:
            payload = response.json()
        except ValueError as exc:
            raise SearchError(f"{self.name} returned malformed JSON from {self.endpoint}") from exc
        try:
            return self.parse_payload(payload)
        except (KeyError, TypeError, AttributeError) as exc:
            raise SearchError(
                f"{self.name} returned an unexpected response shape from {self.endpoint}: {exc!r}"
            ) from exc

    def parse_payload(self, payload: Any) -> List[Hit]:
        raise NotImplementedError

    def filter_results(self, hits: Sequence[Hit]) -> Dict[int, Dict[str, str]]:
        """Drop black-listed and repeated URLs, keep ``topk``; lagent's result shape."""
        results: Dict[int, Dict[str, str]] = {}
        seen = set()
        for url, snippet, title in hits:
            if not url or url in seen or any(bad in url for bad in self.black_list):
                continue
            seen.add(url)
            results[len(results)] = {"url": url, "summ": snippet, "title": title}
            if len(results) >= self.topk:
                break
        return results

    def _failure(self, exc: Exception) -> SearchError:
        if isinstance(exc, SearchError):
            return exc
        if isinstance(exc, httpx.HTTPStatusError):
            code = exc.response.status_code
            return SearchError(f"{self.name} search at {self.endpoint} failed: HTTP {code}")
        return SearchError(f"{self.name} search at {self.endpoint} failed: {type(exc).__name__}")

    def _backoff(self, attempt: int) -> float:
        return min(2.0, 0.25 * 2**attempt)

    # -- waiting part -----------------------------------------------------------------------
    def search(self, query: str) -> Dict[int, Dict[str, str]]:
        request = self.build_request(query)
        last: Exception = SearchError(f"{self.name}: no attempt made")
        with httpx.Client(timeout=self.timeout, proxy=self.proxy) as client:
            for attempt in range(self.max_retry):
                try:
                    response = client.request(request.method, request.url, **request.kwargs())
                    response.raise_for_status()
                    return self.filter_results(self.parse(response))
                except (httpx.HTTPError, SearchError) as exc:
                    last = exc
                    if not _is_retryable(exc) or attempt + 1 == self.max_retry:
                        break
                    time.sleep(self._backoff(attempt))
        raise self._failure(last) from last

    async def asearch(self, query: str) -> Dict[int, Dict[str, str]]:
        request = self.build_request(query)
        last: Exception = SearchError(f"{self.name}: no attempt made")
        async with httpx.AsyncClient(timeout=self.timeout, proxy=self.proxy) as client:
            for attempt in range(self.max_retry):
                try:
                    response = await client.request(request.method, request.url, **request.kwargs())
                    response.raise_for_status()
                    return self.filter_results(self.parse(response))
                except (httpx.HTTPError, SearchError) as exc:
                    last = exc
                    if not _is_retryable(exc) or attempt + 1 == self.max_retry:
                        break
                    await asyncio.sleep(self._backoff(attempt))
        raise self._failure(last) from last


class _DuckDuckGoResults(HTMLParser):
    """Collects result links and snippets from DuckDuckGo's no-JavaScript result page."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: List[List[str]] = []
        self._field: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "a" and "result__a" in classes:
            self.hits.append([_unwrap_ddg_link(dict(attrs).get("href") or ""), "", ""])
            self._field = "title"
        elif "result__snippet" in classes and self.hits:
            self._field = "snippet"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "td", "div"):
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field == "title":
            self.hits[-1][2] += data
        elif self._field == "snippet":
            self.hits[-1][1] += data


def _unwrap_ddg_link(href: str) -> str:
    """DuckDuckGo wraps targets as ``/l/?uddg=<url>``; return the target itself."""
    parsed = urlparse(href)
    if parsed.path.endswith("/l/") and "uddg" in parse_qs(parsed.query):
        return parse_qs(parsed.query)["uddg"][0]
    return href


class DuckDuckGoSearch(BaseSearch):
    """DuckDuckGo's HTML endpoint: needs no key."""

    name = "DuckDuckGo"
    default_endpoint = "https://html.duckduckgo.com/html/"

    def build_request(self, query: str) -> SearchRequest:
        return SearchRequest(
            "POST",
            self.endpoint,
            data={"q": query},
            headers={"User-Agent": "Mozilla/5.0 (lagent_nb web search)"},
        )

    def parse(self, response: httpx.Response) -> List[Hit]:
        page = _DuckDuckGoResults()
        page.feed(response.text)
        return [(url, snippet.strip(), title.strip()) for url, snippet, title in page.hits]


class BingSearch(BaseSearch):
    """Bing Web Search API v7 (``webPages.value[]``)."""

    name = "Bing"
    default_endpoint = "https://api.bing.microsoft.com/v7.0/search"
    key_env = "BING_SEARCH_API_KEY"
    needs_key = True

    def __init__(self, *args: Any, market: str = "en-US", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.market = market

    def build_request(self, query: str) -> SearchRequest:
        return SearchRequest(
            "GET",
            self.endpoint,
            params={"q": query, "mkt": self.market, "count": str(self.topk * 2)},
            headers={"Ocp-Apim-Subscription-Key": self._api_key or ""},
        )

    def parse_payload(self, payload: Any) -> List[Hit]:
        pages = payload.get("webPages", {}).get("value", [])
        return [(p["url"], p.get("snippet", ""), p.get("name", "")) for p in pages]


class BraveSearch(BaseSearch):
    """Brave Search API (``web.results[]`` or ``results[]`` for the news endpoint)."""

    name = "Brave"
    default_endpoint = "https://api.search.brave.com/res/v1/web/search"
    key_env = "BRAVE_SEARCH_API_KEY"
    needs_key = True

    def build_request(self, query: str) -> SearchRequest:
        return SearchRequest(
            "GET",
            self.endpoint,
            params={"q": query, "count": str(min(20, self.topk * 2))},
            headers={"X-Subscription-Token": self._api_key or "", "Accept": "application/json"},
        )

    def parse_payload(self, payload: Any) -> List[Hit]:
        items = payload["web"]["results"] if "web" in payload else payload.get("results", [])
        return [(r["url"], r.get("description", ""), r.get("title", "")) for r in items]


class GoogleSearch(BaseSearch):
    """Google results through the Serper API (``answerBox``, ``knowledgeGraph``, ``organic``)."""

    name = "Google (Serper)"
    default_endpoint = "https://google.serper.dev/search"
    key_env = "SERPER_API_KEY"
    needs_key = True

    def build_request(self, query: str) -> SearchRequest:
        return SearchRequest(
            "POST",
            self.endpoint,
            json={"q": query, "num": self.topk * 2},
            headers={"X-API-KEY": self._api_key or "", "Content-Type": "application/json"},
        )

    def parse_payload(self, payload: Any) -> List[Hit]:
        hits: List[Hit] = []
        box = payload.get("answerBox")
        if box and box.get("link"):
            answer = box.get("answer") or box.get("snippet") or ""
            hits.append((box["link"], answer, box.get("title", "")))
        graph = payload.get("knowledgeGraph")
        if graph and graph.get("descriptionLink"):
            hits.append(
                (graph["descriptionLink"], graph.get("description", ""), graph.get("title", ""))
            )
        for item in payload.get("organic", []):
            hits.append((item["link"], item.get("snippet", ""), item.get("title", "")))
        return hits


class SearxngSearch(BaseSearch):
    """A SearxNG instance's JSON API (``results[]``); the instance URL is required."""

    name = "SearxNG"
    key_env = "SEARXNG_API_KEY"

    def __init__(
        self,
        *args: Any,
        endpoint: Optional[str] = None,
        auth_header: str = "Authorization",
        categories: str = "general",
        **kwargs: Any,
    ) -> None:
        endpoint = endpoint or os.environ.get("SEARXNG_URL")
        if not endpoint:
            raise ValueError("SearxngSearch needs the instance URL: endpoint=... or $SEARXNG_URL")
        super().__init__(*args, endpoint=endpoint, **kwargs)
        self.auth_header = auth_header
        self.categories = categories

    def build_request(self, query: str) -> SearchRequest:
        headers = {self.auth_header: self._api_key} if self._api_key else {}
        url = (
            self.endpoint
            if self.endpoint.rstrip("/").endswith("/search")
            else (self.endpoint.rstrip("/") + "/search")
        )
        return SearchRequest(
            "GET",
            url,
            params={"q": query, "format": "json", "categories": self.categories},
            headers=headers,
        )

    def parse_payload(self, payload: Any) -> List[Hit]:
        return [(r["url"], r.get("content", ""), r.get("title", "")) for r in payload["results"]]


SEARCHERS: Dict[str, type] = {
    cls.__name__: cls
    for cls in (DuckDuckGoSearch, BingSearch, BraveSearch, GoogleSearch, SearxngSearch)
}
