"""Resource limits for sibling kernels, applied in the child between ``fork`` and ``exec``.

Address space, CPU seconds and file size use ``setrlimit``.  The process cap is harder:
``RLIMIT_NPROC`` counts every task of the *user* (threads included) and the kernel ignores it
for root, so where this process may create a cgroup (cgroup v1 ``pids`` controller, common in
containers that run as root) each kernel gets its own cgroup with ``pids.max``; elsewhere the
rlimit is set to the kernel user's current task count plus the cap.  A root parent without such
a cgroup gets the rlimit too once kernels drop to an unprivileged user (``run_as``, see
:mod:`.identity`).  Trade-off of the rlimit: it is a budget of the *user*, so every kernel
running as that user (all sessions, other managers, other programs of that user) draws on one
pool; each kernel's limit is "tasks of the user when it started + cap".  The cgroup also lets us
find and kill every process a kernel spawned, so nothing outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

from .identity import AUTO, KernelUser, RunAs, drop_privileges

GiB = 1 << 30
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PIDS_ROOT = Path("/sys/fs/cgroup/pids")


@dataclass(frozen=True)
class KernelLimits:
    """Per-kernel limits; ``None`` leaves a limit as inherited.

    The defaults fit a data-science kernel (an idle kernel with matplotlib maps about 1 GiB of
    address space and runs 14 threads) while stopping runaway allocations and fork bombs.

    ``run_as`` picks the user kernels run as (see :mod:`lagent_nb.kernels.identity`):
    ``'auto'`` follows ``$LAGENT_NB_KERNEL_USER`` when set, else drops a root parent's kernels
    to ``nobody`` when that user can reach the kernel's Python and work directory (and warns
    and stays root when it cannot); ``None``/``'self'`` never switches; a name or uid always
    does (or fails clearly at construction).
    """

    address_space: Optional[int] = 4 * GiB
    cpu_seconds: Optional[int] = None
    max_processes: Optional[int] = 256
    file_size: Optional[int] = 4 * GiB
    run_as: RunAs = AUTO


class ProcessCap:
    """A cgroup with ``pids.max`` for one kernel and everything it starts (or a no-op).

    ``mode`` says how the cap is enforced: ``'cgroup'``, ``'rlimit'`` or ``None`` (kernels that
    stay root and no writable cgroup: nothing can enforce it).
    """

    def __init__(self, max_processes: Optional[int], user: Optional[KernelUser] = None) -> None:
        self.max_processes = max_processes
        self.path: Optional[Path] = None
        self.mode: Optional[str] = None
        if max_processes is None:
            return
        self.path = _make_pids_cgroup(max_processes)
        if self.path is not None:
            self.mode = "cgroup"
        elif user is not None or os.getuid() != 0:
            self.mode = "rlimit"

    def pids(self) -> List[int]:
        if self.path is None:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    @contextlib.contextmanager
    def headroom(self, kernel_pid: int, extra: int = 64) -> Iterator[None]:
        """Lift the cap for a moment, so the kernel can start the thread it needs to reap the
        zombies a killed fork bomb left (they stay charged until reaped)."""
        if self.mode == "cgroup":
            limit = self.path / "pids.max"
            limit.write_text(str(self.max_processes + extra))
            try:
                yield
            finally:
                limit.write_text(str(self.max_processes))
        elif self.mode == "rlimit":
            try:
                soft, hard = resource.prlimit(kernel_pid, resource.RLIMIT_NPROC)
                raised = soft + extra if hard == resource.RLIM_INFINITY else min(soft + extra, hard)
                resource.prlimit(kernel_pid, resource.RLIMIT_NPROC, (raised, hard))
            except PermissionError:
                # A kernel of another user and no CAP_SYS_RESOURCE (Docker drops it): the reap
                # code then runs on the threads the kernel already has, which has sufficed.
                yield
                return
            try:
                yield
            finally:
                with contextlib.suppress(ProcessLookupError):
                    resource.prlimit(kernel_pid, resource.RLIMIT_NPROC, (soft, hard))
        else:
            yield

    def remove(self) -> None:
        """Delete the cgroup; callers kill its processes first (an rmdir of a busy one fails)."""
        if self.path is not None:
            try:
                self.path.rmdir()
            except OSError:
                return
            self.path = None


def _current_pids_cgroup() -> Optional[Path]:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return _PIDS_ROOT / path.lstrip("/")
    return None


def sweep_stale_cgroups() -> int:
    """Kill what is left in the cgroups of lagent_nb processes that died without cleaning up.

    A parent killed with SIGKILL takes its kernels along (PDEATHSIG), but processes those
    kernels started are re-parented and live on; their cgroup still names them.  Returns how
    many processes were killed.
    """
    parent = _current_pids_cgroup()
    if parent is None or not os.access(parent, os.W_OK):
        return 0
    killed = 0
    for path in parent.glob("lagent_nb-*-*"):
        owner = path.name.split("-")[1]
        if not owner.isdigit() or _pid_alive(int(owner)):
            continue
        for _ in range(5):
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        with contextlib.suppress(OSError):
            path.rmdir()
    return killed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_pids_cgroup(max_processes: int) -> Optional[Path]:
    parent = _current_pids_cgroup()
    if parent is None or not os.access(parent, os.W_OK):
        return None
    path = parent / f"lagent_nb-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_processes))
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


def _user_task_count(uid: int) -> int:
    """Tasks (threads included) of user ``uid``, which is what ``RLIMIT_NPROC`` counts."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                total += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return total


def make_preexec_fn(
    limits: KernelLimits,
    cap: ProcessCap,
    user: Optional[KernelUser] = None,
    connection_file: Optional[str] = None,
) -> Callable[[], None]:
    """Return the function ``Popen`` runs in the child before ``exec``.

    Everything that can fail or allocate (the libc handle, the cgroup path, the task count) is
    prepared here in the parent; the child only makes system calls.  It also asks the kernel to
    SIGKILL the child when the thread that started it dies, so a crashed parent leaves no
    orphan (ipykernel's ``JPY_PARENT_PID`` poller is the second line of defence), and makes the
    kernel the subreaper of what it starts, so orphaned grandchildren come back to it to be
    reaped instead of lingering as zombies that count against the process cap.

    With a ``user`` the child, still root, joins the cgroup, sets the limits and hands the
    connection file (written by jupyter_client just before the launch, mode 0600) to that user,
    then drops to it.  The parent-death signal is set last because Linux clears it whenever the
    effective uid changes.
    """
    rlimits = []
    if limits.address_space is not None:
        rlimits.append((resource.RLIMIT_AS, limits.address_space))
    if limits.cpu_seconds is not None:
        rlimits.append((resource.RLIMIT_CPU, limits.cpu_seconds))
    if limits.file_size is not None:
        rlimits.append((resource.RLIMIT_FSIZE, limits.file_size))
    if cap.mode == "rlimit" and limits.max_processes is not None:
        uid = os.getuid() if user is None else user.uid
        rlimits.append((resource.RLIMIT_NPROC, _user_task_count(uid) + limits.max_processes))
    procs_file = str(cap.path / "cgroup.procs") if cap.path is not None else None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        prctl = None

    def preexec() -> None:
        if procs_file is not None:
            fd = os.open(procs_file, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        for which, value in rlimits:
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
        if user is not None:
            if connection_file is not None:
                os.chown(connection_file, user.uid, user.gid)
            drop_privileges(user)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            prctl(_PR_SET_CHILD_SUBREAPER, 1)

    return preexec


def _process_table() -> Iterator[Tuple[int, str, int, int]]:
    """``(pid, state, ppid, pgrp)`` of every process, from ``/proc/<pid>/stat``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        state, ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        yield int(entry.name), state, int(ppid), int(pgrp)


def descendants(kernel_pid: int, cap: ProcessCap) -> List[int]:
    """Processes a kernel started: its cgroup members, or its process group (the launcher gives
    each kernel its own session) when there is no cgroup.  The kernel itself is excluded."""
    pids = set(cap.pids())
    if cap.path is None:
        pids.update(pid for pid, _, _, pgrp in _process_table() if pgrp == kernel_pid)
    pids.discard(kernel_pid)
    return sorted(pids)


def zombie_children(kernel_pid: int) -> List[int]:
    """Exited children the kernel has not reaped (the kernel is their subreaper too)."""
    return [pid for pid, state, ppid, _ in _process_table() if ppid == kernel_pid and state == "Z"]


def kill_descendants(kernel_pid: int, cap: ProcessCap) -> int:
    """SIGKILL what the kernel started; returns how many processes were signalled."""
    killed = 0
    for _ in range(5):  # a fork bomb may spawn more while we kill: repeat a few rounds
        pids = descendants(kernel_pid, cap)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed
