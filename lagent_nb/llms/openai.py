"""``GPTAPI`` / ``AsyncGPTAPI``: any OpenAI-compatible chat endpoint through the official client.

The twins share everything but the waiting: payloads, reply and chunk handling come from
``openai_protocol``, retry decisions from ``retry``, keys from ``credentials``. The openai
client's own retries are off, so the bounded policy here is the only one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Optional, Union

import openai

try:  # openai >= 3 is built on the httpx2 fork; older releases on httpx itself
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx

from lagent_nb.llms.base_api import AsyncBaseAPILLM, BaseAPILLM
from lagent_nb.llms.base_llm import ChatInputs, Conversation, StreamItem, is_batch
from lagent_nb.llms.credentials import KeyRing
from lagent_nb.llms.openai_protocol import (
    OPENAI_API_BASE,
    OPENAI_META_TEMPLATE,
    StreamAccumulator,
    client_arguments,
    completion_text,
    generate_request_data,
    resolve_api_base,
)
from lagent_nb.llms.retry import RetryPolicy, RetryState
from lagent_nb.schema import ModelStatusCode

logger = logging.getLogger(__name__)

__all__ = ["GPTAPI", "OPENAI_API_BASE", "AsyncGPTAPI"]


def _proxy_mounts(proxies: Optional[dict], transport: type) -> Optional[dict]:
    """requests-style ``{'http': url, 'https': url}`` as httpx transport mounts."""
    if not proxies:
        return None
    return {
        f"{scheme.rstrip(':/')}://": transport(proxy=url) for scheme, url in proxies.items() if url
    }


class _Pool:
    """One HTTP connection pool and the openai clients (one per key and organisation) on it."""

    def __init__(self, http_client: Any, make_client: Callable[[str, Optional[str], Any], Any]):
        self.http_client = http_client
        self.in_flight = 0
        self._make_client = make_client
        self._clients: dict[tuple[str, Optional[str]], Any] = {}

    def client(self, key: str, org: Optional[str]) -> Any:
        client = self._clients.get((key, org))
        if client is None:
            client = self._clients[(key, org)] = self._make_client(key, org, self.http_client)
        return client


class _OpenAICommon:
    """Construction and per-request decisions shared by ``GPTAPI`` and ``AsyncGPTAPI``.

    Args beyond lagent's: ``timeout`` (seconds to wait for the server's next bytes; generous
    because a local CPU model may think for ~40 s before its first token), ``connect_timeout``,
    ``retry_wait`` (the longest single back-off or Retry-After honoured) and
    ``max_connections`` (per connection pool). The worst case of one call is thus bounded by
    ``retry * (connect_timeout + timeout) + (retry - 1) * retry_wait`` while the server stalls;
    a server that keeps streaming is not cut off.
    ``retry`` is the number of attempts, as in lagent.
    """

    is_api: bool = True

    def __init__(
        self,
        model_type: str = "gpt-3.5-turbo",
        retry: int = 2,
        json_mode: bool = False,
        key: Union[str, Sequence[str], None] = "ENV",
        org: Union[str, Sequence[str], None] = None,
        meta_template: Optional[list[dict]] = None,
        api_base: Optional[str] = None,
        proxies: Optional[dict] = None,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        retry_wait: float = 30.0,
        max_connections: int = 1024,
        **gen_params,
    ):
        gen_params.pop("top_k", None)  # OpenAI has no top_k
        super().__init__(
            model_type=model_type,
            retry=retry,
            meta_template=OPENAI_META_TEMPLATE if meta_template is None else meta_template,
            **gen_params,
        )
        self.gen_params.pop("top_k", None)
        self.json_mode = json_mode
        self.proxies = proxies
        self.base_url, self.url = resolve_api_base(api_base)
        self.orgs = [org] if isinstance(org, str) else list(org or [])
        self._org_next = 0
        self._keys = KeyRing(key)
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.retry_policy = RetryPolicy(attempts=max(1, retry), max_wait=retry_wait)
        self.max_connections = max_connections

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_type={self.model_type!r}, url={self.url!r}, "
            f"keys={len(self._keys)}, retry={self.retry})"
        )

    # -- decisions shared by the twins -------------------------------------------------------

    def _httpx_options(self) -> dict:
        return {
            "timeout": httpx.Timeout(self.timeout, connect=self.connect_timeout),
            "limits": httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=min(self.max_connections, 256),
            ),
        }

    def _next_org(self) -> Optional[str]:
        if not self.orgs:
            return None
        org = self.orgs[self._org_next % len(self.orgs)]
        self._org_next += 1
        return org

    def _prepare(
        self, messages: Conversation, gen_params: dict, stream: bool
    ) -> tuple[dict, Optional[list[str]]]:
        """The ``create(...)`` arguments for one request, and the stop words to cut at."""
        params = self.update_gen_params(**gen_params)
        tools = params.pop("tools", None)
        data = generate_request_data(
            self.model_type, self.template_parser(messages), params, self.json_mode, tools
        )
        if stream:
            data["stream"] = True
        return client_arguments(data), params["stop_words"]

    def _new_retry_state(self) -> RetryState:
        return RetryState(self.url, self._keys, self.retry_policy, timeout=self.timeout)

    def _new_openai_client(self, key: str, org: Optional[str], http_client: Any) -> Any:
        return self._client_class(
            api_key=key,
            organization=org,
            base_url=self.base_url,
            max_retries=0,
            timeout=self._httpx_options()["timeout"],
            http_client=http_client,
        )

    @contextmanager
    def _lease(self, key: str) -> Iterator[Any]:
        """An openai client for ``key`` (and the next organisation) on the least busy pool."""
        pool = self._pick_pool()
        pool.in_flight += 1
        try:
            yield pool.client(key, self._next_org())
        finally:
            pool.in_flight -= 1

    def _log_retry(self, state: RetryState, wait: float) -> None:
        logger.warning(
            "LLM request to %s failed (attempt %d of %d: %s); retrying in %.2g s",
            self.url,
            state.tries,
            self.retry_policy.attempts,
            state.last_cause,
            wait,
        )

    def generate_request_data(
        self, model_type: str, messages: list, gen_params: dict, json_mode: bool = False
    ) -> tuple[dict, dict]:
        """lagent-compatible ``(header, data)``; the header never carries the key here."""
        return {"content-type": "application/json"}, generate_request_data(
            model_type, messages, gen_params, json_mode
        )

    def tokenize(self, prompt: str) -> list:
        try:
            import tiktoken
        except ImportError as error:
            raise ImportError("tokenize() needs tiktoken: pip install tiktoken") from error
        return tiktoken.encoding_for_model(self.model_type).encode(prompt)


class GPTAPI(_OpenAICommon, BaseAPILLM):
    """Blocking client for OpenAI-compatible chat APIs (OpenAI, vLLM, llama.cpp, Ollama…).

    ``GPTAPI(model_type, retry=2, json_mode=False, key='ENV', org=None, meta_template=…,
    api_base=…, proxies=None, **gen_params)`` as in lagent; ``api_base`` may be a full
    ``…/v1/chat/completions`` URL or a ``…/v1`` base, and defaults to ``$OPENAI_BASE_URL``.
    """

    _client_class = openai.OpenAI

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool: Optional[_Pool] = None
        self._pool_lock = threading.Lock()  # batches call from worker threads

    def _pick_pool(self) -> _Pool:
        with self._pool_lock:
            if self._pool is None:
                mounts = _proxy_mounts(self.proxies, httpx.HTTPTransport)
                http_client = openai.DefaultHttpxClient(mounts=mounts, **self._httpx_options())
                self._pool = _Pool(http_client, self._new_openai_client)
                # connections close with this object even if close() is never called
                weakref.finalize(self, http_client.close)
            return self._pool

    def close(self) -> None:
        """Close the pooled connections now (a later call opens new ones)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.http_client.close()

    def _complete(self, messages: Conversation, gen_params: dict) -> str:
        arguments, stop_words = self._prepare(messages, gen_params, stream=False)
        state = self._new_retry_state()
        while True:
            key = state.next_key()
            try:
                with self._lease(key) as client:
                    raw = client.chat.completions.with_raw_response.create(**arguments)
                return completion_text(raw.http_response.json(), stop_words)
            except Exception as error:
                wait = state.after_failure(error, key)
            if wait:
                self._log_retry(state, wait)
                time.sleep(wait)

    def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        """One conversation gives a str; a list of conversations is sent concurrently."""
        if not is_batch(inputs):
            return self._complete(inputs, gen_params)
        with ThreadPoolExecutor(max_workers=min(16, len(inputs))) as pool:
            return list(pool.map(lambda conv: self._complete(conv, gen_params), inputs))

    def stream_chat(self, inputs: Conversation, **gen_params) -> Iterator[StreamItem]:
        arguments, stop_words = self._prepare(inputs, gen_params, stream=True)
        state = self._new_retry_state()
        while True:
            key = state.next_key()
            acc = StreamAccumulator(stop_words)
            try:
                with (
                    self._lease(key) as client,
                    client.chat.completions.create(**arguments) as stream,
                ):
                    for chunk in stream:
                        text = acc.feed(chunk)
                        if text is not None:
                            yield ModelStatusCode.STREAM_ING, text, None
                        if acc.stopped:
                            break
                final = acc.finish()
            except Exception as error:
                wait = state.after_failure(error, key, partial=bool(acc.shown))
            else:
                yield ModelStatusCode.END, final, acc.extra()
                return
            if wait:
                self._log_retry(state, wait)
                time.sleep(wait)


class AsyncGPTAPI(_OpenAICommon, AsyncBaseAPILLM):
    """``GPTAPI`` for asyncio: ``await chat(...)``, ``async for ... in stream_chat(...)``.

    HTTP pools belong to the event loop that made them (notebooks and ``asyncio.run`` create
    new loops), and grow with concurrency so hundreds of sessions are not serialised.
    """

    _client_class = openai.AsyncOpenAI

    #: A new connection pool opens once every pool has this many requests in flight: httpx
    #: scans a pool's idle connections on each request, so one pool of hundreds of
    #: connections would make a burst of requests cost quadratic time.
    requests_per_pool = 8
    max_pools = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # event loop -> its pools; an httpx pool must not outlive (or change) its loop
        self._loop_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _pick_pool(self) -> _Pool:
        pools = self._loop_pools.setdefault(asyncio.get_running_loop(), [])
        pool = min(pools, key=lambda p: p.in_flight, default=None)
        if pool is None or (
            pool.in_flight >= self.requests_per_pool and len(pools) < self.max_pools
        ):
            mounts = _proxy_mounts(self.proxies, httpx.AsyncHTTPTransport)
            http_client = openai.DefaultAsyncHttpxClient(mounts=mounts, **self._httpx_options())
            pool = _Pool(http_client, self._new_openai_client)
            pools.append(pool)
        return pool

    async def aclose(self) -> None:
        """Close the connections this object holds on the running event loop."""
        pools = self._loop_pools.pop(asyncio.get_running_loop(), [])
        await asyncio.gather(*(pool.http_client.aclose() for pool in pools))

    async def _complete(self, messages: Conversation, gen_params: dict) -> str:
        arguments, stop_words = self._prepare(messages, gen_params, stream=False)
        state = self._new_retry_state()
        while True:
            key = state.next_key()
            try:
                with self._lease(key) as client:
                    raw = await client.chat.completions.with_raw_response.create(**arguments)
                return completion_text(raw.http_response.json(), stop_words)
            except Exception as error:
                wait = state.after_failure(error, key)
            if wait:
                self._log_retry(state, wait)
                await asyncio.sleep(wait)

    async def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        if not is_batch(inputs):
            return await self._complete(inputs, gen_params)
        return list(await asyncio.gather(*(self._complete(c, gen_params) for c in inputs)))

    async def stream_chat(self, inputs: Conversation, **gen_params) -> AsyncIterator[StreamItem]:
        arguments, stop_words = self._prepare(inputs, gen_params, stream=True)
        state = self._new_retry_state()
        while True:
            key = state.next_key()
            acc = StreamAccumulator(stop_words)
            try:
                with self._lease(key) as client:
                    stream = await client.chat.completions.create(**arguments)
                    async with stream:
                        async for chunk in stream:
                            text = acc.feed(chunk)
                            if text is not None:
                                yield ModelStatusCode.STREAM_ING, text, None
                            if acc.stopped:
                                break
                final = acc.finish()
            except Exception as error:
                wait = state.after_failure(error, key, partial=bool(acc.shown))
            else:
                yield ModelStatusCode.END, final, acc.extra()
                return
            if wait:
                self._log_retry(state, wait)
                await asyncio.sleep(wait)
