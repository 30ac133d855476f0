"""``WebBrowser`` / ``AsyncWebBrowser``: lagent's web tool (``search``, ``select``, ``open_url``).

The search results a ``select`` refers to belong to one session: two conversations browsing at
the same time never pick from each other's results (lagent keeps one list per tool instance).
Network trouble never raises into the agent loop: it comes back as an ``HTTP_ERROR``
``ActionReturn`` whose message names the provider or URL, never an API key.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

from lagent_nb.schema import ActionReturn, ActionStatusCode

from .base_action import AsyncActionMixin, BaseAction, tool_api
from .parser import BaseParser, JsonParser
from .web_fetch import ContentFetcher, truncate
from .web_search import DEFAULT_BLACK_LIST, SEARCHERS, BaseSearch, SearchError

Results = Dict[int, Dict[str, Any]]


def make_searcher(searcher_type: Union[str, type, BaseSearch], **kwargs: Any) -> BaseSearch:
    """A searcher from lagent's class names (``'BingSearch'``), a class, or an instance."""
    if isinstance(searcher_type, BaseSearch):
        return searcher_type
    if isinstance(searcher_type, str):
        if searcher_type not in SEARCHERS:
            raise ValueError(
                f"unknown searcher_type {searcher_type!r}; choose one of {sorted(SEARCHERS)}"
            )
        searcher_type = SEARCHERS[searcher_type]
    return searcher_type(**kwargs)


def merge_results(per_query: Sequence[Union[Results, Exception]]) -> Results:
    """One numbered list from several queries' results, each URL once, in query order."""
    merged: Results = {}
    seen = set()
    for results in per_query:
        if isinstance(results, Exception):
            continue
        for item in results.values():
            if item["url"] not in seen:
                seen.add(item["url"])
                merged[len(merged)] = dict(item)
    return merged


class _BrowserCore:
    """State and decisions shared by the sync and async browsers; they only differ in waiting."""

    def __init__(
        self,
        searcher_type: Union[str, type, BaseSearch] = "DuckDuckGoSearch",
        timeout: float = 5,
        black_list: Optional[List[str]] = None,
        topk: int = 20,
        description: Optional[dict] = None,
        parser: Type[BaseParser] = JsonParser,
        max_content_length: int = 8192,
        **searcher_kwargs: Any,
    ) -> None:
        super().__init__(description, parser)
        self.searcher = make_searcher(
            searcher_type,
            topk=topk,
            black_list=DEFAULT_BLACK_LIST if black_list is None else black_list,
            timeout=timeout,
            **searcher_kwargs,
        )
        self.fetcher = ContentFetcher(timeout=timeout)
        self.max_content_length = max_content_length
        self._results: Dict[Any, Results] = {}

    def search_results(self, session_id: Any = 0) -> Optional[Results]:
        """The last search results of a session (what ``select`` picks from)."""
        return self._results.get(session_id)

    def reset(self, session_id: Any = 0) -> None:
        """Forget a session's search results."""
        self._results.pop(session_id, None)

    @staticmethod
    def _queries(query: Union[str, List[str]]) -> List[str]:
        return [query] if isinstance(query, str) else [str(q) for q in query]

    def _finish_search(
        self, session_id: Any, per_query: Sequence[Union[Results, Exception]]
    ) -> Union[Results, ActionReturn]:
        errors = [r for r in per_query if isinstance(r, Exception)]
        if errors and len(errors) == len(per_query):
            return ActionReturn(errmsg=str(errors[0]), state=ActionStatusCode.HTTP_ERROR)
        self._results[session_id] = merge_results(per_query)
        return self._results[session_id]

    def _selection(
        self, select_ids: List[int], session_id: Any
    ) -> Union[List[Tuple[int, str]], ActionReturn]:
        results = self._results.get(session_id)
        if not results:
            return ActionReturn(
                errmsg="no search results in this session: call search first",
                state=ActionStatusCode.API_ERROR,
            )
        return [(i, results[i]["url"]) for i in select_ids if i in results]

    def _finish_select(self, session_id: Any, fetched: List[Tuple[int, bool, str]]) -> Results:
        results = self._results[session_id]
        selected: Results = {}
        for index, ok, text in fetched:
            item = dict(results[index])
            if ok:
                item["content"] = truncate(text, self.max_content_length)
            else:
                item["error"] = text
            selected[index] = item
        return selected

    def _finish_open(self, ok: bool, text: str) -> Union[dict, ActionReturn]:
        if not ok:
            return ActionReturn(errmsg=text, state=ActionStatusCode.HTTP_ERROR)
        return {"type": "text", "content": truncate(text, self.max_content_length)}


_INIT_DOC = """
    Args:
        searcher_type: a searcher class name from :mod:`lagent_nb.actions.web_search`
            (``DuckDuckGoSearch``, ``BingSearch``, ``BraveSearch``, ``GoogleSearch``,
            ``SearxngSearch``), a class, or a configured instance.
        timeout: seconds for each search request and page download.
        black_list: URL substrings to drop from results.
        topk: results kept per query.
        max_content_length: characters of page text handed to the model.
        **kwargs: passed to the searcher (``api_key``, ``endpoint``, ...).
"""


class WebBrowser(_BrowserCore, BaseAction):
    __doc__ = "Search the web and read pages (sync)." + _INIT_DOC

    @tool_api(exclude_arguments=["session_id"])
    def search(self, query: Union[str, List[str]], session_id: Any = 0) -> dict:
        """Search the web; results are numbered so ``select`` can open some of them.

        Args:
            query (List[str]): one query, or several to search at once.
        """
        queries = self._queries(query)
        with ThreadPoolExecutor(max_workers=min(8, len(queries)) or 1) as pool:
            per_query = list(pool.map(self._search_one, queries))
        return self._finish_search(session_id, per_query)

    def _search_one(self, query: str) -> Union[Results, Exception]:
        try:
            return self.searcher.search(query)
        except SearchError as exc:
            return exc

    @tool_api(exclude_arguments=["session_id"])
    def select(self, select_ids: List[int], session_id: Any = 0) -> dict:
        """Read the pages of some search results.

        Args:
            select_ids (List[int]): numbers of results from the last search.
        """
        selection = self._selection(select_ids, session_id)
        if isinstance(selection, ActionReturn):
            return selection
        with ThreadPoolExecutor(max_workers=min(8, len(selection)) or 1) as pool:
            pages = list(pool.map(lambda pair: self.fetcher.fetch(pair[1]), selection))
        fetched = [(i, ok, text) for (i, _), (ok, text) in zip(selection, pages, strict=True)]
        return self._finish_select(session_id, fetched)

    @tool_api
    def open_url(self, url: str) -> dict:
        """Read the text of a web page.

        Args:
            url (str): the page's address.
        """
        return self._finish_open(*self.fetcher.fetch(url))


class AsyncWebBrowser(AsyncActionMixin, _BrowserCore, BaseAction):
    __doc__ = "Search the web and read pages (async)." + _INIT_DOC

    @tool_api(exclude_arguments=["session_id"])
    async def search(self, query: Union[str, List[str]], session_id: Any = 0) -> dict:
        """Search the web; results are numbered so ``select`` can open some of them.

        Args:
            query (List[str]): one query, or several to search at once.
        """
        per_query = await asyncio.gather(
            *(self.searcher.asearch(q) for q in self._queries(query)), return_exceptions=True
        )
        for result in per_query:
            if isinstance(result, Exception) and not isinstance(result, SearchError):
                raise result
        return self._finish_search(session_id, per_query)

    @tool_api(exclude_arguments=["session_id"])
    async def select(self, select_ids: List[int], session_id: Any = 0) -> dict:
        """Read the pages of some search results.

        Args:
            select_ids (List[int]): numbers of results from the last search.
        """
        selection = self._selection(select_ids, session_id)
        if isinstance(selection, ActionReturn):
            return selection
        pages = await asyncio.gather(*(self.fetcher.afetch(url) for _, url in selection))
        fetched = [(i, ok, text) for (i, _), (ok, text) in zip(selection, pages, strict=True)]
        return self._finish_select(session_id, fetched)

    @tool_api
    async def open_url(self, url: str) -> dict:
        """Read the text of a web page.

        Args:
            url (str): the page's address.
        """
        return self._finish_open(*(await self.fetcher.afetch(url)))
