"""What a sibling kernel inherits: a scrubbed environment and a private runtime directory."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from lagent_nb.utils.secrets import is_secret_name, scrub_environment

__all__ = ["is_secret_name", "private_runtime_dir", "safe_name", "scrub_environment"]


def private_runtime_dir(prefix: str = "lagent_nb-kernels-") -> Path:
    """A fresh directory only this user can enter, for connection files and ipc sockets.

    ``mkdtemp`` creates it with mode 0700; the chmod makes that explicit in case a permissive
    umask or filesystem got in the way.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o700)
    return path


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(value: object, limit: int = 64) -> str:
    """Turn an owner or session id into a directory name (no separators, no dot-dot).

    Ids that had to be changed get a digest suffix so that ``'a/b'`` and ``'a_b'`` stay apart.
    """
    text = str(value)
    name = _UNSAFE.sub("_", text).strip(".")[:limit]
    if name != text:
        name = f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return name
