"""API keys: round-robin use, retirement of exhausted keys, and keeping them out of text.

Keys live only inside a ``KeyRing``; its ``repr`` shows how many there are, never what they
are, and ``redact`` scrubs them from any message before it is logged or raised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Union

#: What a key is replaced with in messages.
REDACTED = "<redacted-key>"

#: Sent when no key is configured: local OpenAI-compatible servers (vLLM, llama.cpp, Ollama)
#: accept any bearer token, and OpenAI itself answers 401, which our error explains.
NO_KEY = "EMPTY"


class Secret(str):
    """A key that works as a str but prints as ``REDACTED``.

    Tracebacks that list each frame's locals (IPython's ``%xmode Verbose``), debuggers and
    containers all show ``repr``, so a key held in a local variable stays hidden there too.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return REDACTED


class AllKeysRetired(RuntimeError):
    """Every configured key was reported as out of quota."""


class KeyRing:
    """Hands out keys round-robin, skipping keys retired for ``insufficient_quota``.

    ``key='ENV'`` reads ``$OPENAI_API_KEY``; a list of keys is used in turn. Thread-safe, so a
    batch of conversations sent from worker threads shares one ring.
    """

    def __init__(self, key: Union[str, Sequence[str], None], env_var: str = "OPENAI_API_KEY"):
        if key is None or isinstance(key, str):
            key = [key]
        keys = [os.environ.get(env_var) if item == "ENV" else item for item in key]
        self._configured = any(keys)
        self._keys = [Secret(item or NO_KEY) for item in keys] or [Secret(NO_KEY)]
        self._retired: set[str] = set()
        self._next = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} key(s), {len(self._retired)} retired)"

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def configured(self) -> bool:
        """Whether any real key was given (else requests carry a placeholder)."""
        return self._configured

    def next(self) -> Secret:
        """The next usable key; ``AllKeysRetired`` when none is left."""
        with self._lock:
            for _ in range(len(self._keys)):
                key = self._keys[self._next]
                self._next = (self._next + 1) % len(self._keys)
                if key not in self._retired:
                    return key
        raise AllKeysRetired(f"all {len(self._keys)} API key(s) have insufficient quota")

    def retire(self, key: str) -> None:
        with self._lock:
            self._retired.add(key)

    def index(self, key: str) -> int:
        """Position of ``key`` in the ring, for log lines that must not show the key."""
        return self._keys.index(key)

    def redact(self, text: str) -> str:
        """``text`` with every configured key replaced by ``REDACTED``."""
        for key in self._keys:
            if key and key != NO_KEY:
                text = text.replace(key, REDACTED)
        return text
