"""Deterministic LLMs for tests and examples: replies come from a script, not a model.

They go through the real ``BaseLLM`` machinery (gen-param merging, meta templates, client-side
stop words), so agent logic tested with them behaves as it would with a real backend.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Union

from lagent_nb.llms.base_llm import (
    AsyncBaseLLM,
    BaseLLM,
    ChatInputs,
    Conversation,
    StreamItem,
    is_batch,
    strip_session_keys,
)
from lagent_nb.llms.stopping import cut_at_stop_words
from lagent_nb.schema import ModelStatusCode

Script = Union[Sequence[str], Callable[[list[dict]], str]]

_TOKEN = re.compile(r"\s+|\S+\s*")


def split_chunks(text: str, chunk_size: int | None) -> list[str]:
    """Chunks whose concatenation is ``text``: per word (with its whitespace) or per N chars."""
    if chunk_size is None:
        return _TOKEN.findall(text)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]


class _ScriptMixin:
    """The script bookkeeping both twins share; they differ only in how they hand it out.

    ``replies`` is a list of strings consumed in order (an IndexError says so when it runs
    out) or a callable ``f(messages) -> str``. ``calls`` records each conversation received,
    ``prompts`` what the template parser rendered for it, and ``gen_params_log`` the merged
    generation options of each call, so tests can assert on what the agent sent.
    """

    def __init__(
        self,
        replies: Script,
        *,
        chunk_size: int | None = None,
        path: str = "scripted",
        meta_template: list[dict] | None = None,
        **gen_params,
    ):
        super().__init__(path, meta_template=meta_template, **gen_params)
        self.replies = replies if callable(replies) else list(replies)
        self.chunk_size = chunk_size
        self.calls: list[list[dict]] = []
        self.prompts: list[Any] = []
        self.gen_params_log: list[dict] = []
        self._next = 0

    def __repr__(self) -> str:
        script = "callable" if callable(self.replies) else f"{len(self.replies)} replies"
        return f"{type(self).__name__}({script}, used={len(self.calls)})"

    def _answer(self, messages: Any, gen_params: dict) -> str:
        """Record one call and return its reply, already cut at the stop words."""
        params = self.update_gen_params(**strip_session_keys(gen_params))
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        messages = [dict(message) for message in messages]
        self.calls.append(messages)
        self.prompts.append(self.template_parser(messages))
        self.gen_params_log.append(params)
        if callable(self.replies):
            reply = self.replies(messages)
        else:
            if self._next >= len(self.replies):
                raise IndexError(
                    f"{type(self).__name__} ran out of replies: all {len(self.replies)} "
                    f"were used and call #{len(self.calls)} wants another"
                )
            reply = self.replies[self._next]
            self._next += 1
        return cut_at_stop_words(reply, params["stop_words"])

    def _respond(self, inputs: ChatInputs, gen_params: dict) -> Union[str, list[str]]:
        if is_batch(inputs):
            return [self._answer(conversation, gen_params) for conversation in inputs]
        return self._answer(inputs, gen_params)

    def _stream(self, inputs: Conversation, gen_params: dict) -> Iterator[StreamItem]:
        text = self._answer(inputs, gen_params)
        shown = ""
        for chunk in split_chunks(text, self.chunk_size):
            shown += chunk
            yield ModelStatusCode.STREAM_ING, shown, None
        yield ModelStatusCode.END, text, None

    def _generate(self, inputs: Union[str, list[str]], gen_params: dict) -> Union[str, list[str]]:
        if isinstance(inputs, list):
            return [self._answer(prompt, gen_params) for prompt in inputs]
        return self._answer(inputs, gen_params)


class ScriptedLLM(_ScriptMixin, BaseLLM):
    """A ``BaseLLM`` that answers from a script instead of a model.

    ``ScriptedLLM(replies, *, chunk_size=None, meta_template=None, **gen_params)``: see
    ``_ScriptMixin`` for ``replies`` and the recorded ``calls``; ``stream_chat`` yields one
    chunk per whitespace-separated word (``chunk_size=None``) or per ``chunk_size`` characters.
    """

    def generate(self, inputs: Union[str, list[str]], **gen_params) -> Union[str, list[str]]:
        return self._generate(inputs, gen_params)

    def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        return self._respond(inputs, gen_params)

    def stream_chat(self, inputs: Conversation, **gen_params) -> Iterator[StreamItem]:
        return self._stream(inputs, gen_params)


class AsyncScriptedLLM(_ScriptMixin, AsyncBaseLLM):
    """``ScriptedLLM`` with ``await chat(...)`` and ``async for ... in stream_chat(...)``.

    Each chunk yields to the event loop, so concurrency and cancellation behave as they do
    with a network backend.
    """

    async def generate(
        self, inputs: Union[str, list[str]], session_ids: Any = None, **gen_params
    ) -> Union[str, list[str]]:
        await asyncio.sleep(0)
        return self._generate(inputs, gen_params)

    async def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        await asyncio.sleep(0)
        return self._respond(inputs, gen_params)

    async def stream_chat(self, inputs: Conversation, **gen_params) -> AsyncIterator[StreamItem]:
        for item in self._stream(inputs, gen_params):
            await asyncio.sleep(0)
            yield item
