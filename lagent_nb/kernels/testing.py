"""Test helpers for kernels that run as another user; the product never imports this module.

Tests of ``run_as`` need a root parent, the user, and a Python that user can run.  The last is
often missing on developer machines and CI images alike (a pyenv or venv under ``/root``, mode
0700), while the system Python of the same version is readable by everyone and can load this
environment's packages.  :func:`kernelspec_env_for` builds a ``python3`` kernelspec on that
interpreter, the way a Docker image with ``/usr/bin/python3`` would run its kernels.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Dict

from .identity import KernelUser, lookup_user, unreachable


class KernelUserUnavailable(RuntimeError):
    """Kernels cannot run as the requested user here; the message says why (a skip reason)."""


def switchable_user(name: str = "nobody") -> KernelUser:
    """``name`` as a :class:`KernelUser`, if this process may switch to it."""
    if os.getuid() != 0:
        raise KernelUserUnavailable("switching kernels to another user needs a root parent")
    try:
        return lookup_user(name)
    except ValueError:
        raise KernelUserUnavailable(f"there is no user {name!r} on this machine") from None


def kernelspec_env_for(user: KernelUser, directory: Path) -> Dict[str, str]:
    """Environment updates under which the ``python3`` kernelspec is runnable by ``user``.

    Empty when this Python already is; otherwise ``JUPYTER_PATH`` pointing at a kernelspec in
    ``directory`` that runs a system Python of this version on this environment's packages.
    """
    if unreachable(user, {sys.executable: 0o5}) is None:
        return {}
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = list(dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]))
    blocked = unreachable(user, dict.fromkeys(site, 0o5))
    if blocked is not None:
        raise KernelUserUnavailable(f"user {user.name!r} cannot read {blocked}")
    for folder in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = shutil.which(version, path=folder)
        if candidate and unreachable(user, {candidate: 0o5}) is None:
            break
    else:
        raise KernelUserUnavailable(
            f"user {user.name!r} cannot reach {sys.executable} and there is no system {version}"
        )
    spec = directory / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [candidate, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": f"{version} ({user.name})", "language": "python"}
    kernel["env"] = {"PYTHONPATH": os.pathsep.join(site)}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return {"JUPYTER_PATH": str(directory)}
