"""Resource limits for sibling kernels, applied in the child between ``fork`` and ``exec``.

Address space, CPU seconds and file size use ``setrlimit``.  The process cap is harder:
``RLIMIT_NPROC`` counts every task of the *user* (threads included) and the kernel ignores it
for root, so where this process may create a cgroup (cgroup v1 ``pids`` controller, common in
containers that run as root) each kernel gets its own cgroup with ``pids.max``; elsewhere the
rlimit is set to the user's current task count plus the cap.  The cgroup also lets us find and
kill every process a kernel spawned, so nothing outlives it.
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
from typing import Callable, Iterator, List, Optional

GiB = 1 << 30
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PIDS_ROOT = Path("/sys/fs/cgroup/pids")


@dataclass(frozen=True)
class KernelLimits:
    """Per-kernel limits; ``None`` leaves a limit as inherited.

    The defaults fit a data-science kernel (an idle kernel with matplotlib maps about 1 GiB of
    address space and runs 14 threads) while stopping runaway allocations and fork bombs.
    """

    address_space: Optional[int] = 4 * GiB
    cpu_seconds: Optional[int] = None
    max_processes: Optional[int] = 256
    file_size: Optional[int] = 4 * GiB


class ProcessCap:
    """A cgroup with ``pids.max`` for one kernel and everything it starts (or a no-op).

    ``mode`` says how the cap is enforced: ``'cgroup'``, ``'rlimit'`` or ``None`` (root without
    a writable cgroup: nothing can enforce it).
    """

    def __init__(self, max_processes: Optional[int]) -> None:
        self.max_processes = max_processes
        self.path: Optional[Path] = None
        self.mode: Optional[str] = None
        if max_processes is None:
            return
        self.path = _make_pids_cgroup(max_processes)
        if self.path is not None:
            self.mode = "cgroup"
        elif os.getuid() != 0:
            self.mode = "rlimit"

    def pids(self) -> List[int]:
        if self.path is None:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def has_zombies(self) -> bool:
        """Whether exited-but-unreaped tasks are still charged (``pids.current`` counts them,
        the ``tasks`` list does not)."""
        if self.path is None:
            return False
        try:
            charged = int((self.path / "pids.current").read_text())
            live = len((self.path / "tasks").read_text().split())
        except (OSError, ValueError):
            return False
        return charged > live

    @contextlib.contextmanager
    def headroom(self, extra: int = 64) -> Iterator[None]:
        """Raise ``pids.max`` for a moment, so the kernel can start the thread it needs to
        reap the zombies a killed fork bomb left (they stay charged until reaped)."""
        if self.path is None or self.max_processes is None:
            yield
            return
        limit = self.path / "pids.max"
        limit.write_text(str(self.max_processes + extra))
        try:
            yield
        finally:
            limit.write_text(str(self.max_processes))

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


def _user_task_count() -> int:
    """Tasks (threads included) of this user, which is what ``RLIMIT_NPROC`` counts."""
    uid = os.getuid()
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


def make_preexec_fn(limits: KernelLimits, cap: ProcessCap) -> Callable[[], None]:
    """Return the function ``Popen`` runs in the child before ``exec``.

    Everything that can fail or allocate (the libc handle, the cgroup path, the task count) is
    prepared here in the parent; the child only makes system calls.  It also asks the kernel to
    SIGKILL the child when the thread that started it dies, so a crashed parent leaves no
    orphan (ipykernel's ``JPY_PARENT_PID`` poller is the second line of defence), and makes the
    kernel the subreaper of what it starts, so orphaned grandchildren come back to it to be
    reaped instead of lingering as zombies that count against the process cap.
    """
    rlimits = []
    if limits.address_space is not None:
        rlimits.append((resource.RLIMIT_AS, limits.address_space))
    if limits.cpu_seconds is not None:
        rlimits.append((resource.RLIMIT_CPU, limits.cpu_seconds))
    if limits.file_size is not None:
        rlimits.append((resource.RLIMIT_FSIZE, limits.file_size))
    if cap.mode == "rlimit" and limits.max_processes is not None:
        rlimits.append((resource.RLIMIT_NPROC, _user_task_count() + limits.max_processes))
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
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            prctl(_PR_SET_CHILD_SUBREAPER, 1)

    return preexec


def descendants(kernel_pid: int, cap: ProcessCap) -> List[int]:
    """Processes a kernel started: its cgroup members, or its process group (the launcher gives
    each kernel its own session) when there is no cgroup.  The kernel itself is excluded."""
    pids = set(cap.pids())
    if cap.path is None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == kernel_pid:  # field 5 of stat: the process group
                pids.add(int(entry.name))
    pids.discard(kernel_pid)
    return sorted(pids)


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
