"""What a sibling kernel inherits: a scrubbed environment and a private runtime directory."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Optional

SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True for variables that look like credentials, or that the user listed by name."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or name in set(extra)


def scrub_environment(
    environ: Optional[Mapping[str, str]] = None, remove: Iterable[str] = ()
) -> dict:
    """Copy ``environ`` (default ``os.environ``) without secrets.

    Code written by an LLM runs in the kernel; it must not be able to read the API key the agent
    itself uses, so anything named like a credential is dropped, plus the names in ``remove``.
    """
    environ = os.environ if environ is None else environ
    remove = tuple(remove)
    return {k: v for k, v in environ.items() if not is_secret_name(k, remove)}


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
