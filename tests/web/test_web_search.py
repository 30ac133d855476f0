"""Every searcher against a real loopback server speaking the provider's documented format."""

from __future__ import annotations

import asyncio

import pytest

from lagent_nb.actions.web_fetch import ContentFetcher, truncate
from lagent_nb.actions.web_search import (
    BingSearch,
    BraveSearch,
    DuckDuckGoSearch,
    GoogleSearch,
    SearchError,
    SearxngSearch,
)
from lagent_nb.testing.search_server import SearchServer, query_of

SECRET = "sk-search-secret-123"

PROVIDERS = [
    (BingSearch, "bing", "Ocp-Apim-Subscription-Key"),
    (BraveSearch, "brave", "X-Subscription-Token"),
    (GoogleSearch, "serper", "X-API-KEY"),
    (SearxngSearch, "searxng", "Authorization"),
    (DuckDuckGoSearch, "duckduckgo", None),
]


@pytest.fixture
def server():
    with SearchServer(delay=3.0) as srv:
        yield srv


def make(cls, server, provider, **kw):
    return cls(topk=5, endpoint=server.endpoint(provider), api_key=SECRET, timeout=1.0, **kw)


@pytest.mark.parametrize(("cls", "provider", "key_header"), PROVIDERS)
def test_search_parses_provider_format(server, cls, provider, key_header):
    searcher = make(cls, server, provider)
    results = searcher.search("solar capacity 2024")
    assert [r["title"] for r in results.values()] == [
        "Solar capacity in 2024",
        "Wind capacity in 2024",
        "A video about energy",
    ]
    assert results[0]["url"] == server.page_url("solar")
    assert results[0]["summ"].startswith("Solar power capacity grew")
    # the black list drops the video site the server also returns
    assert not any("youtube.com" in r["url"] for r in results.values())
    method, path, headers = server.requests[-1]
    if key_header:
        assert headers[key_header] == SECRET
    if method == "GET":
        assert query_of(path)["q"] == ["solar capacity 2024"]


@pytest.mark.parametrize(("cls", "provider", "key_header"), PROVIDERS)
def test_async_search_matches_sync(server, cls, provider, key_header):
    searcher = make(cls, server, provider)
    assert asyncio.run(searcher.asearch("wind")) == searcher.search("wind")


def test_topk_limits_results(server):
    searcher = BraveSearch(topk=1, endpoint=server.endpoint("brave"), api_key=SECRET)
    assert list(searcher.search("x")) == [0]


@pytest.mark.parametrize(("cls", "provider", "key_header"), PROVIDERS)
@pytest.mark.parametrize("fault", ["error", "malformed", "slow"])
def test_faults_are_clear_errors_without_the_key(server, cls, provider, key_header, fault):
    server.fault = fault
    searcher = make(cls, server, provider, max_retry=2)
    if provider == "duckduckgo" and fault == "malformed":
        # a cut HTML page still parses: whatever results survive are returned, nothing raises
        assert isinstance(searcher.search("x"), dict)
        return
    with pytest.raises(SearchError) as info:
        searcher.search("x")
    message = str(info.value)
    assert searcher.name in message and server.base_url in message
    assert SECRET not in message and SECRET not in repr(searcher)
    if fault == "error":
        # 5xx answers are retried, boundedly
        assert len(server.requests) == 2


def test_client_errors_are_not_retried(server):
    searcher = BingSearch(endpoint=server.base_url + "/missing", api_key=SECRET)
    with pytest.raises(SearchError, match="HTTP 404"):
        searcher.search("x")
    assert len(server.requests) == 1


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SERPER_API_KEY"):
        GoogleSearch()


def test_key_from_environment(server, monkeypatch):
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", SECRET)
    BraveSearch(endpoint=server.endpoint("brave")).search("x")
    assert server.requests[-1][2]["X-Subscription-Token"] == SECRET


def test_searxng_needs_an_instance(monkeypatch):
    monkeypatch.delenv("SEARXNG_URL", raising=False)
    with pytest.raises(ValueError, match="SEARXNG_URL"):
        SearxngSearch()


def test_fetch_extracts_article_text(server):
    ok, text = ContentFetcher(timeout=2).fetch(server.page_url("solar"))
    assert ok
    assert "Germany added 15 gigawatts" in text
    assert "Home | About" not in text  # boilerplate removed


def test_fetch_failures_are_results_not_exceptions(server):
    fetcher = ContentFetcher(timeout=0.5)
    ok, text = fetcher.fetch(server.base_url + "/pages/nope")
    assert not ok and "HTTP 404" in text
    server.fault = "slow"
    ok, text = fetcher.fetch(server.page_url("solar"))
    assert not ok and "timed out" in text
    ok, text = asyncio.run(fetcher.afetch("http://127.0.0.1:9/unreachable"))
    assert not ok and "ConnectError" in text


def test_fetch_is_bounded_in_size(server):
    ok, text = ContentFetcher(max_bytes=150).fetch(server.page_url("solar"))
    assert ok and "Germany" not in text


def test_truncate_says_how_much_was_cut():
    assert truncate("abcdef", 4) == "abcd\n…[truncated 2 characters]"
    assert truncate("abc", 4) == "abc"
