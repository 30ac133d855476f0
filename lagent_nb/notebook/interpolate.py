"""Replace ``{name}``, ``{In[3]}``, ``{Out[3]}`` in a prompt with values from the namespace.

``str.format`` would choke on the braces of code, dicts and format specs that prompts often
contain (jupyter-ai#1260), so only a brace pair holding exactly a name, optionally with one
integer subscript, is a placeholder, and only when that name (and index) exists. Everything
else, ``{{name}}`` included, stays exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# ``{{...}}`` is matched first, as a whole, so that an escaped pair is never a placeholder.
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\[(-?\d+)\])?\}")
_MISSING = object()


def _lookup(namespace: Mapping[str, Any], name: str, index: str | None) -> Any:
    value = namespace.get(name, _MISSING)
    if value is _MISSING or index is None:
        return value
    try:
        return value[int(index)]
    except (LookupError, TypeError, ValueError):
        return _MISSING


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """``text`` with every placeholder that names an existing value replaced by ``str(value)``."""

    def replace(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group(0)
        value = _lookup(namespace, match.group(1), match.group(2))
        return match.group(0) if value is _MISSING else str(value)

    return _PLACEHOLDER.sub(replace, text)
