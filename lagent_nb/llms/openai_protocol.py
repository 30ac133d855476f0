"""The chat-completions protocol as plain functions: request payloads, replies, stream chunks.

Nothing here does I/O, so the sync and async clients share every decision, and differential
tests can compare payloads with lagent's ``GPTAPI.generate_request_data`` directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, Optional

from lagent_nb.llms.retry import IncompleteStream
from lagent_nb.llms.stopping import StreamText, cut_at_stop_words

#: lagent's default endpoint (a full chat-completions URL).
OPENAI_API_BASE = "https://api.openai.com/v1/chat/completions"

#: Role mapping for OpenAI-style APIs: tool observations ("environment") go in as system.
OPENAI_META_TEMPLATE = [
    {"role": "system", "api_role": "system"},
    {"role": "user", "api_role": "user"},
    {"role": "assistant", "api_role": "assistant"},
    {"role": "environment", "api_role": "system"},
]

_ENDPOINT_SUFFIX = "/chat/completions"
_REASONING_MODEL = re.compile(r"o\d")

# Payload fields the openai client needs as named arguments (``stream`` decides what it
# returns); everything else travels in ``extra_body``, so any OpenAI-compatible server option
# (vLLM's ``skip_special_tokens``…) passes unchanged.
_NAMED = ("model", "stream")


def resolve_api_base(api_base: Optional[str]) -> tuple[str, str]:
    """``(base_url, chat_url)`` from lagent's full URL, a ``…/v1`` base, or ``$OPENAI_BASE_URL``."""
    url = api_base or os.environ.get("OPENAI_BASE_URL") or OPENAI_API_BASE
    base = url.rstrip("/")
    if base.endswith(_ENDPOINT_SUFFIX):
        base = base[: -len(_ENDPOINT_SUFFIX)]
    return base, base + _ENDPOINT_SUFFIX


def generate_request_data(
    model_type: str,
    messages: list[dict],
    gen_params: dict,
    json_mode: bool = False,
    tools: Optional[Sequence[dict]] = None,
) -> dict:
    """The JSON body of a chat-completions request.

    Maps lagent's gen params to OpenAI's: ``max_new_tokens`` -> ``max_tokens`` (no cap),
    ``stop_words`` -> ``stop``, ``repetition_penalty`` -> ``frequency_penalty``; ``top_k`` and
    session ids are dropped; ``skip_special_tokens`` is kept only for InternLM models, as lagent
    does; ``json_mode`` asks for a JSON object. Any model name is accepted; OpenAI's reasoning
    models (``o1``, ``o3``…) get no sampling options, as in lagent's async client.
    """
    params = dict(gen_params)
    if "max_tokens" in params:  # accept OpenAI's own name too
        params["max_new_tokens"] = params.pop("max_tokens")
    max_tokens = params.pop("max_new_tokens", None)
    if max_tokens is not None and max_tokens <= 0:
        raise ValueError(f"max_new_tokens must be positive, got {max_tokens}")
    for dropped in ("top_k", "session_id", "session_ids"):
        params.pop(dropped, None)
    if not model_type.lower().startswith("internlm"):
        params.pop("skip_special_tokens", None)
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if "stop_words" in params:
        params["stop"] = params.pop("stop_words")
    if "repetition_penalty" in params:
        params["frequency_penalty"] = params.pop("repetition_penalty")
    reasoning = bool(_REASONING_MODEL.match(model_type.lower()))
    if reasoning:
        # OpenAI's o-series reject sampling options and max_tokens: like lagent's async
        # client, send them nothing but the conversation.
        params = {}
    data = {"model": model_type, "messages": messages, "n": 1, **params}
    if json_mode and not reasoning:
        data["response_format"] = {"type": "json_object"}
    if tools:
        data["tools"] = list(tools)
    return data


def client_arguments(data: dict) -> dict:
    """Keyword arguments for ``client.chat.completions.create`` from a payload.

    Fields set to None are left out: some servers reject ``null`` where they expect a value.
    The messages go in ``extra_body`` too, which the client merges over its own fields: as a
    named argument each message would be walked through the client's TypedDict transform,
    about half a millisecond of CPU per request, the largest cost at hundreds of sessions.
    """
    named = {key: data[key] for key in _NAMED if key in data}
    extra = {k: v for k, v in data.items() if k not in _NAMED and v is not None}
    return {**named, "messages": [], "extra_body": extra}


def completion_text(payload: Any, stop_words: Optional[Sequence[str]] = None) -> str:
    """The assistant's text in a chat-completion JSON body, cut at the stop words and stripped
    as lagent does; '' for a reply that only calls tools."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices:
        raise ValueError(f"the response has no choices: {str(payload)[:200]}")
    content = (choices[0].get("message") or {}).get("content") or ""
    return cut_at_stop_words(content, stop_words).strip()


class StreamAccumulator:
    """Folds streamed chat-completion chunks into the cumulative text an agent displays.

    ``feed`` returns the visible text when it grew (None otherwise); stop words are cut on
    the client (see ``StreamText``). ``finish`` checks the stream really ended (a finish reason
    arrived, or a stop word did) and returns the final text; tool-call fragments are
    reassembled for ``extra``.
    """

    def __init__(self, stop_words: Optional[Sequence[str]]):
        self.text = StreamText(stop_words)
        self.finish_reason: Optional[str] = None
        self.tool_calls: list[dict] = []
        self.usage: Optional[dict] = None

    @property
    def shown(self) -> str:
        return self.text.shown

    @property
    def stopped(self) -> bool:
        return self.text.stopped

    def feed(self, chunk: Any) -> Optional[str]:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage)
        delta_text = ""
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if delta is not None:
                delta_text += delta.content or ""
                self._merge_tool_calls(getattr(delta, "tool_calls", None) or [])
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return self.text.feed(delta_text)

    def _merge_tool_calls(self, deltas: Sequence[Any]) -> None:
        """Tool calls stream as fragments keyed by index; concatenate their arguments."""
        for delta in deltas:
            index = delta.index
            while len(self.tool_calls) <= index:
                self.tool_calls.append(
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
            call = self.tool_calls[index]
            call["id"] = delta.id or call["id"]
            if delta.function is not None:
                call["function"]["name"] += delta.function.name or ""
                call["function"]["arguments"] += delta.function.arguments or ""

    def finish(self) -> str:
        if not (self.stopped or self.finish_reason is not None):
            raise IncompleteStream(f"ended after {len(self.text.raw)} characters without a finish")
        return self.text.final()

    def extra(self) -> Optional[dict]:
        """What the final stream item carries besides text (tool calls), lagent-style None."""
        return {"tool_calls": self.tool_calls} if self.tool_calls else None
