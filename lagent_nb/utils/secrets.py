"""Which environment variables are secrets, for every child process lagent_nb starts.

Sibling kernels run model-written code and model servers run third-party code; neither needs the
user's API keys, so both get the parent's environment minus anything named like a credential.
One definition serves them all, so a child can never be started with a laxer filter.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional

SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True for variables that look like credentials, or that the user listed by name."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or name in set(extra)


def scrub_environment(
    environ: Optional[Mapping[str, str]] = None, remove: Iterable[str] = ()
) -> dict:
    """Copy ``environ`` (default ``os.environ``) without secrets and without the names in
    ``remove``."""
    environ = os.environ if environ is None else environ
    remove = tuple(remove)
    return {k: v for k, v in environ.items() if not is_secret_name(k, remove)}
