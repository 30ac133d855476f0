"""Saving an agent's memories to a JSON file and loading them back (``%agent save/load``).

The file holds exactly ``agent.state_dict(session_id)``, as UTF-8 JSON with non-ASCII text
kept readable, so it can be read back with ``json.load`` + ``load_state_dict`` outside the
notebook too (with lagent itself as well). It is written to a temporary file and renamed,
so an error never leaves a half-written file in place of a good one.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise TypeError(f"a {type(value).__name__} in the memory cannot be written as JSON")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as readable UTF-8 JSON, atomically (temporary file, then rename).

    Text that UTF-8 cannot encode (a lone surrogate, e.g. from a half-decoded byte string) is
    written as JSON ``\\u`` escapes instead, so the file still loads back to the same memory.
    """
    text = json.dumps(data, ensure_ascii=False, indent=1, default=_jsonable)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, indent=1, default=_jsonable)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def save_state(agent: Any, path: str | os.PathLike, session_id: Any = 0) -> int:
    """Write the session's ``state_dict`` to ``path``; returns the number of messages saved."""
    state = agent.state_dict(session_id=session_id)
    write_json(path, state)
    return sum(len(v) for v in state.values())


def load_state(agent: Any, path: str | os.PathLike, session_id: Any = 0) -> int:
    """Load a file written by ``save_state`` into the session; returns the message count."""
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state_dict (a JSON object of memories)")
    agent.load_state_dict(state, session_id=session_id)
    return sum(len(v or []) for v in state.values())
