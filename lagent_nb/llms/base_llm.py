"""The LLM base classes and the prompt template parser for completion-style models.

An LLM wrapper has one job: turn a conversation (a list of ``{'role', 'content'}`` dicts, as the
aggregators produce) into text. ``chat`` renders the conversation with the template parser and
hands the prompt to ``generate``; backends only implement ``generate`` / ``stream_generate``
(or override ``chat`` when the server speaks messages, as OpenAI does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Union

from lagent_nb.llms.stopping import normalize_stop_words
from lagent_nb.schema import ModelStatusCode

Message = dict
Conversation = list[Message]
ChatInputs = Union[Conversation, list[Conversation]]
StreamItem = tuple[ModelStatusCode, str, Any]

# Keyword arguments that identify a session rather than tune generation; agents pass them to
# ``chat`` / ``stream_chat`` and they must never reach a backend as sampling options.
_SESSION_KEYS = ("session_id", "session_ids")


def _index_roles(meta_template: Sequence[dict] | None) -> dict[str, dict]:
    """Map role name -> role config, refusing templates that define a role twice."""
    roles: dict[str, dict] = {}
    for item in meta_template or ():
        if not isinstance(item, dict) or "role" not in item:
            raise TypeError(f"meta template entries must be dicts with a 'role', got {item!r}")
        if item["role"] in roles:
            raise ValueError(f"role {item['role']!r} appears twice in the meta template")
        roles[item["role"]] = dict(item)
    return roles


def _lookup_role(roles: dict[str, dict], role: str) -> dict:
    """The config that renders ``role``, following its ``fallback_role`` if it has one."""
    try:
        config = roles[role]
    except KeyError:
        known = sorted(roles)
        raise KeyError(f"role {role!r} is not in the meta template (roles: {known})") from None
    fallback = config.get("fallback_role")
    return roles[fallback] if fallback else config


def _plain_join(dialog: Sequence[Union[str, Message]]) -> str:
    """Without a meta template, non-empty contents are joined with newlines."""
    parts = [item if isinstance(item, str) else item.get("content", "") for item in dialog]
    return "\n".join(part for part in parts if part)


def is_batch(inputs: Any) -> bool:
    """A batch is a list of conversations; a conversation is a list of messages."""
    return isinstance(inputs, list) and bool(inputs) and isinstance(inputs[0], list)


class LMTemplateParser:
    """Render a conversation into one prompt string using a meta template.

    Each role of the template gives a ``begin`` and ``end`` wrapped around the content. ``begin``
    is a string, or a dict with ``with_name`` (a format string using ``{name}``),
    ``without_name`` and an optional ``name`` alias map, so ``name='plugin'`` can render as a
    special token. A role may point at a ``fallback_role``; a role with ``generate=True`` left
    last is rendered open (no ``end``), and when the last message is not the assistant's, the
    assistant's ``begin`` is appended so the model continues as the assistant.
    """

    def __init__(self, meta_template: list[dict] | None = None):
        self.meta_template = meta_template
        self.roles = _index_roles(meta_template)

    def __call__(self, dialog: Union[str, Sequence[Union[str, Message]]]) -> str:
        if isinstance(dialog, str):
            return dialog
        if not self.meta_template:
            return _plain_join(dialog)
        last = len(dialog) - 1
        return "".join(
            item if isinstance(item, str) else self._render(item, index == last)
            for index, item in enumerate(dialog)
        )

    @staticmethod
    def _begin(config: dict, name: str | None) -> str:
        begin = config.get("begin", "")
        if isinstance(begin, str):
            return begin
        if name is None:
            return begin.get("without_name", "")
        return begin.get("with_name", "").format(name=begin.get("name", {}).get(name, name))

    def _render(self, message: Message, last: bool) -> str:
        config = _lookup_role(self.roles, message["role"])
        text = self._begin(config, message.get("name")) + message.get("content", "")
        if last and config.get("generate", False):
            return text
        text += config.get("end", "")
        if last and config["role"] != "assistant" and "assistant" in self.roles:
            text += self._begin(self.roles["assistant"], None)
        return text


class APITemplateParser:
    """Turn a conversation into the message list a chat API expects.

    With a meta template, each message's role is mapped to the role's ``api_role`` (so an
    ``environment`` message can reach OpenAI as ``system``), its content is wrapped in the
    role's ``begin``/``end`` strings, other keys such as ``name`` are kept, and consecutive
    messages that end up with the same API role are merged with a newline, because several
    APIs reject two user (or system) messages in a row. Without one, contents are joined
    into a single prompt string.
    """

    def __init__(self, meta_template: list[dict] | None = None):
        self.meta_template = meta_template
        self.roles = _index_roles(meta_template)

    def __call__(self, dialog: Union[str, Sequence[Union[str, Message]]]):
        if isinstance(dialog, str):
            return dialog
        if not self.meta_template:
            return _plain_join(dialog)
        merged: list[Message] = []
        for item in dialog:
            if isinstance(item, str):
                if item.strip():
                    raise TypeError(
                        "a bare string has no role and cannot be sent to a chat API: "
                        f"wrap it as {{'role': 'user', 'content': ...}} (got {item[:40]!r})"
                    )
                continue
            message = self._to_api(item)
            if merged and merged[-1]["role"] == message["role"]:
                merged[-1]["content"] += "\n" + message["content"]
            else:
                merged.append(message)
        return merged

    def _to_api(self, message: Message) -> Message:
        config = _lookup_role(self.roles, message["role"])
        converted = dict(message)
        converted["role"] = config["api_role"]
        converted["content"] = (
            config.get("begin", "") + (message.get("content") or "") + config.get("end", "")
        )
        return converted


class BaseLLM:
    """Base of every completion-style model wrapper.

    ``gen_params`` holds the defaults of a call; keyword arguments of ``chat``/``generate``
    override them for that call only (see ``update_gen_params``).
    """

    def __init__(
        self,
        path: str,
        tokenizer_only: bool = False,
        template_parser: type = LMTemplateParser,
        meta_template: list[dict] | None = None,
        *,
        max_new_tokens: int = 512,
        top_p: float = 0.8,
        top_k: float = 40,
        temperature: float = 0.8,
        repetition_penalty: float = 1.0,
        stop_words: Union[list[str], str, None] = None,
    ):
        self.path = path
        self.tokenizer_only = tokenizer_only
        self.meta_template = meta_template
        self.template_parser = template_parser(meta_template) if template_parser else None
        self.eos_token_id = None
        self.gen_params = dict(
            max_new_tokens=max_new_tokens,
            top_p=top_p,
            top_k=top_k,
            temperature=temperature,
            repetition_penalty=repetition_penalty,
            stop_words=normalize_stop_words(stop_words),
        )

    # -- the parts backends implement ------------------------------------------------------

    def generate(self, inputs: Union[str, list[str]], **gen_params) -> Union[str, list[str]]:
        """Complete one prompt (returns a str) or a list of prompts (returns a list)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement generate")

    def stream_generate(self, inputs: str, **gen_params) -> Iterator[StreamItem]:
        """Yield ``(status, cumulative_text, extra)`` while completing one prompt."""
        raise NotImplementedError(f"{type(self).__name__} does not implement stream_generate")

    def tokenize(self, prompts: Any):
        raise NotImplementedError(f"{type(self).__name__} does not implement tokenize")

    # -- shared behaviour ------------------------------------------------------------------

    def render(self, inputs: ChatInputs) -> Union[str, list[str], Any]:
        """Apply the template parser to one conversation or to each of a batch."""
        if is_batch(inputs):
            return [self.template_parser(conversation) for conversation in inputs]
        return self.template_parser(inputs)

    def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        """Answer one conversation (a str) or a batch of them (a list of str)."""
        return self.generate(self.render(inputs), **strip_session_keys(gen_params))

    def stream_chat(self, inputs: Conversation, **gen_params) -> Iterator[StreamItem]:
        """Stream the answer to one conversation as ``(status, cumulative_text, extra)``."""
        yield from self.stream_generate(self.render(inputs), **strip_session_keys(gen_params))

    def update_gen_params(self, **kwargs) -> dict:
        """The defaults merged with per-call overrides, as a new dict (defaults untouched)."""
        merged = dict(self.gen_params)
        merged.update(kwargs)
        if "stop_words" in kwargs:
            merged["stop_words"] = normalize_stop_words(kwargs["stop_words"])
        return merged


def strip_session_keys(gen_params: dict) -> dict:
    """Drop the session identifiers agents pass along with generation options."""
    return {key: value for key, value in gen_params.items() if key not in _SESSION_KEYS}


class AsyncLLMMixin:
    """Async surface: ``await chat(...)`` and ``async for ... in stream_chat(...)``.

    Placed before a sync base in the MRO, it replaces only the methods that wait; rendering,
    gen-param merging and stop words stay the sync base's.
    """

    async def generate(
        self, inputs: Union[str, list[str]], session_ids: Any = None, **gen_params
    ) -> Union[str, list[str]]:
        raise NotImplementedError(f"{type(self).__name__} does not implement generate")

    async def stream_generate(self, inputs: str, **gen_params) -> AsyncIterator[StreamItem]:
        raise NotImplementedError(f"{type(self).__name__} does not implement stream_generate")
        yield  # pragma: no cover - makes this an async generator

    async def chat(self, inputs: ChatInputs, session_ids: Any = None, **gen_params):
        return await self.generate(
            self.render(inputs), session_ids, **strip_session_keys(gen_params)
        )

    async def stream_chat(self, inputs: Conversation, **gen_params) -> AsyncIterator[StreamItem]:
        async for item in self.stream_generate(
            self.render(inputs), **strip_session_keys(gen_params)
        ):
            yield item


class AsyncBaseLLM(AsyncLLMMixin, BaseLLM):
    """``BaseLLM`` whose generation methods are coroutines / async generators."""
