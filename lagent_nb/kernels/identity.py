"""Which user a sibling kernel runs as, and what that user may touch.

A parent running as root (CI, many Docker notebook images) would otherwise hand model-written
code every file of root and a process cap the Linux kernel ignores (``RLIMIT_NPROC`` does not
apply to root).  So kernels can drop to an unprivileged user between ``fork`` and ``exec``:

* ``run_as="auto"`` (the default): the user named by ``$LAGENT_NB_KERNEL_USER`` if set (so an
  image or deployment can choose without code); else ``nobody`` when this process is root,
  that user exists and can reach the kernel's Python and work directory; otherwise this
  process's own user, with a warning saying why.  The fallback keeps notebooks whose
  interpreter lives in a private place (``/root/.pyenv``) working instead of failing every
  code call.
* ``run_as=None`` or ``"self"``: never switch (the explicit opt-out).
* a user name or a uid: switch to it; a missing user or one that cannot run the interpreter is
  a clear error at construction, not a silent fallback.

What changes for code in a switched kernel: its session directory, HOME and world-writable
places (``/tmp``) work as before; root's private files (``/root``, dotfiles with API keys, 0600
files) are out of reach, and so is writing into root-owned project directories.  Code that must
do that needs ``run_as=None``.

All kernels share the one user (of a manager, and of every manager of the machine using the
same name): they are protected from the parent's files, not from each other (same uid: same
files, signals, ``/proc``; and ``RLIMIT_NPROC`` is one budget for all of them).  A distinct uid
per session would fix that but is not done here, because doing it robustly is a project of its
own: uids must be coordinated between processes (two root notebooks would hand out the same
one), must be mapped in the container's user namespace, inherit the files (``/tmp``,
``/dev/shm``) and stray processes a previous holder left, and lack a passwd entry that
``getpass`` and some caches look up.  A shared unprivileged user removes the main risks (root's
files, an uncapped process count) without those failure modes.
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Union

log = logging.getLogger(__name__)

RunAs = Union[str, int, None]
AUTO = "auto"
SELF = "self"
DEFAULT_USER = "nobody"
ENV_VAR = "LAGENT_NB_KERNEL_USER"
_warned: set = set()


@dataclass(frozen=True)
class KernelUser:
    """The unprivileged identity a kernel runs under."""

    name: str
    uid: int
    gid: int


def lookup_user(run_as: Union[str, int]) -> KernelUser:
    """Resolve a user name or uid; a uid without a passwd entry gets the group of the same id."""
    try:
        entry = pwd.getpwuid(run_as) if isinstance(run_as, int) else pwd.getpwnam(run_as)
    except KeyError:
        if isinstance(run_as, int) and run_as >= 0:
            return KernelUser(str(run_as), run_as, run_as)
        raise ValueError(
            f"run_as={run_as!r}: there is no such user on this machine. Create it (e.g. "
            f"'useradd --system {run_as}'), name another one, or pass run_as=None to run "
            "kernels as this process's user."
        ) from None
    return KernelUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def resolve_kernel_user(
    run_as: RunAs, needs: Callable[[], Mapping[str, int]]
) -> Optional[KernelUser]:
    """Decide the kernel user (None: stay this process's user) for ``run_as``.

    ``needs()`` maps the paths a kernel must reach to the permission bits it needs there (the
    kernel's Python: read and execute; the parent of the work root: execute); it is called only
    when a switch is wanted.  ``'auto'`` stays put when the user lacks one of them; an explicit
    user is an error then.
    """
    if run_as == AUTO and os.environ.get(ENV_VAR, "").strip():
        configured = os.environ[ENV_VAR].strip()
        run_as = int(configured) if configured.isdigit() else configured
    if run_as is None or run_as == SELF:
        return None
    if isinstance(run_as, bool) or not isinstance(run_as, (str, int)):
        raise TypeError(f"run_as must be a user name, a uid, 'auto', 'self' or None: {run_as!r}")
    me = os.getuid()
    if run_as == AUTO:
        if me != 0:
            return None
        try:
            user = lookup_user(DEFAULT_USER)
        except ValueError:
            _warn_once(f"there is no user {DEFAULT_USER!r}")
            return None
        blocked = unreachable(user, needs())
        if blocked is not None:
            _warn_once(f"user {DEFAULT_USER!r} cannot reach {blocked}")
            return None
        return user
    user = lookup_user(run_as)
    if user.uid == me:
        return None
    if me != 0:
        raise ValueError(
            f"run_as={run_as!r}: only root can start kernels as another user and this process "
            f"runs as uid {me}. Pass run_as=None (kernels then run as uid {me})."
        )
    required = needs()
    blocked = unreachable(user, required)
    if blocked is not None:
        raise ValueError(
            f"run_as={run_as!r}: user {user.name!r} cannot reach {blocked}, but kernels need "
            f"{', '.join(required)}. Make that readable by everyone (Python installed outside "
            "/root, a work_root outside private directories) or pass run_as=None to run "
            "kernels as root."
        )
    return user


def _warn_once(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        log.warning(
            "sibling kernels run as root because %s: model-written code can read root's files, "
            "and the process cap holds only where a pids cgroup is writable. Make the kernel's "
            "Python reachable or name a user (KernelLimits(run_as=...) or $%s) to drop "
            "privileges; run_as=None or %s=self silences this warning.",
            reason,
            ENV_VAR,
            ENV_VAR,
        )


def _may(user: KernelUser, info: os.stat_result, bits: int) -> bool:
    """Classic Unix permission check for ``user`` (ACLs are not consulted)."""
    if info.st_uid == user.uid:
        shift = 6
    elif info.st_gid == user.gid:
        shift = 3
    else:
        shift = 0
    return (info.st_mode >> shift) & bits == bits


def unreachable(user: KernelUser, paths: Mapping[str, int]) -> Optional[str]:
    """The first place that stops ``user``: a directory it cannot pass through on the way to a
    path (as given or as its symlink target), or a path it lacks the mapped ``bits`` on (0o5:
    read and execute; 0o1: pass through).  None when every path is reachable."""
    for file, bits in paths.items():
        for target in dict.fromkeys([os.path.abspath(file), os.path.realpath(file)]):
            path = Path(target)
            for directory in reversed(path.parents):
                try:
                    if not _may(user, directory.stat(), 0o1):
                        return str(directory)
                except OSError:
                    return str(directory)
            try:
                if not _may(user, path.stat(), bits):
                    return target
            except OSError:
                return target
    return None


def own_private_dir(path: Path, user: KernelUser) -> Path:
    """Create ``path`` if needed and make it the kernel user's alone (mode 0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(path, user.uid, user.gid)
    path.chmod(0o700)
    return path


def allow_traversal(path: Path) -> None:
    """Let other users pass through ``path`` (x bit) without listing it (no r bit)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & stat.S_IXOTH:
        path.chmod(mode | stat.S_IXOTH)


def user_environment(user: KernelUser, home: Path, ipython_dir: Path) -> Dict[str, str]:
    """Variables that point the tools of a switched kernel at directories it can write.

    ``nobody``'s own home usually does not exist; IPython, matplotlib, pip and XDG-aware
    libraries would warn or fail, so all of them get a private home instead.
    """
    return {
        "HOME": str(home),
        "USER": user.name,
        "LOGNAME": user.name,
        "IPYTHONDIR": str(ipython_dir),
        "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }


def drop_privileges(user: KernelUser) -> None:
    """Become ``user`` for good (runs in the child before ``exec``; system calls only)."""
    os.setgroups([])
    os.setgid(user.gid)
    os.setuid(user.uid)
