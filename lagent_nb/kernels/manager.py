"""Sibling kernels per ``(owner, session_id)``, with a warm spare and one owner that stops them."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Hashable, Iterable, List, Mapping, Optional, Tuple

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from .environment import private_runtime_dir, safe_name, scrub_environment
from .identity import allow_traversal, own_private_dir, resolve_kernel_user
from .limits import KernelLimits, sweep_stale_cgroups
from .loop import KernelLoop, shared_loop
from .results import Execution, ExecutionError
from .sibling import ExecutionPolicy, SiblingKernel

log = logging.getLogger(__name__)

SessionKey = Tuple[Hashable, Hashable]

_registry_lock = threading.Lock()
_live: set[KernelSessions] = set()
_default: Optional[KernelSessions] = None
_default_lock = threading.Lock()
_swept = False  # leftovers of dead lagent_nb processes are cleaned once per process


@dataclass
class _Session:
    workdir: Path
    kernel: Optional[SiblingKernel] = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KernelSessions:
    """Owns the sibling kernels of many sessions; each ``(owner, session_id)`` gets its own.

    Every public method has a blocking form and an ``a``-prefixed awaitable form.  Both submit
    the same coroutine to the private kernel loop (see :mod:`lagent_nb.kernels.loop`), so the
    two APIs cannot drift apart and either works inside a running Jupyter kernel.

    Kernels started by root drop to an unprivileged user by default (``limits.run_as``, see
    :mod:`lagent_nb.kernels.identity`).  Then that user owns the runtime directory (connection
    files, sockets, a private HOME for IPython/matplotlib/pip), the temporary ``work_root``
    and each session directory (all 0700; a ``work_root`` you pass only gains the "others may
    pass through" bit).  The owner directories in between (0711) cannot be listed, so a
    kernel does not stumble on other sessions.  All kernels share the one user, though: code
    that looks for another session (its path, ``/proc/<pid>/cwd``) can read and disturb it,
    and the sessions draw on one process budget.

    Args:
        limits: resource limits applied to every kernel at start, and the user they run as.
        work_root: parent of the per-session working directories; a private temporary
            directory (removed by :meth:`close`) when omitted.
        env: the environment to start from (default ``os.environ``); secrets are removed.
        remove_env: more variable names to keep away from the kernels.
        kernel_name: the kernelspec to start.
        spare: keep one kernel started in advance so a new session does not wait ~0.8 s.
        startup_timeout: seconds a kernel may take to answer after start.
        policy: interrupt grace period, liveness polling and output bounds.
        max_concurrent_starts: kernel starts allowed at once (they are CPU bound).
    """

    def __init__(
        self,
        *,
        limits: KernelLimits = KernelLimits(),
        work_root: Optional[os.PathLike] = None,
        env: Optional[Mapping[str, str]] = None,
        remove_env: Iterable[str] = (),
        kernel_name: str = "python3",
        spare: bool = True,
        startup_timeout: float = 60.0,
        policy: ExecutionPolicy = ExecutionPolicy(),
        max_concurrent_starts: Optional[int] = None,
        loop: Optional[KernelLoop] = None,
    ) -> None:
        self.limits = limits
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.policy = policy
        self._env = scrub_environment(env, remove_env)
        self._owns_work_root = work_root is None
        self.work_root = Path(work_root or tempfile.mkdtemp(prefix="lagent_nb-work-")).resolve()
        self.work_root.mkdir(parents=True, exist_ok=True)
        try:
            self.user = resolve_kernel_user(
                limits.run_as,
                lambda: {kernel_interpreter(kernel_name): 0o5, str(self.work_root.parent): 0o1},
            )
        except (ValueError, TypeError):
            if self._owns_work_root:
                shutil.rmtree(self.work_root, ignore_errors=True)
            raise
        self.runtime_dir = private_runtime_dir()
        if self.user is not None:
            own_private_dir(self.runtime_dir, self.user)
            if self._owns_work_root:
                own_private_dir(self.work_root, self.user)
            else:
                allow_traversal(self.work_root)
        self._loop = loop or shared_loop()
        self._sessions: Dict[SessionKey, _Session] = {}
        self._spare_enabled = spare
        self._spare: Optional[asyncio.Future] = None
        self._starts = asyncio.Semaphore(max_concurrent_starts or max(2, (os.cpu_count() or 1)))
        self._closed = False
        with _registry_lock:
            global _swept
            if not _swept:
                _swept = True
                sweep_stale_cgroups()
            _live.add(self)
        if spare:
            self._loop.loop.call_soon_threadsafe(self._schedule_spare)

    def __repr__(self) -> str:
        return (
            f"<KernelSessions sessions={len(self._sessions)} work_root={str(self.work_root)!r} "
            f"closed={self._closed}>"
        )

    # -- public API: blocking and awaitable twins -------------------------------------------

    def execute(
        self,
        code: str,
        session_id: Hashable = 0,
        owner: Hashable = "default",
        timeout: Optional[float] = None,
    ) -> Execution:
        """Run ``code`` in the session's kernel (started on first use); see :class:`Execution`."""
        return self._loop.run(self._execute(code, (owner, session_id), timeout))

    async def aexecute(
        self,
        code: str,
        session_id: Hashable = 0,
        owner: Hashable = "default",
        timeout: Optional[float] = None,
    ) -> Execution:
        return await self._loop.arun(self._execute(code, (owner, session_id), timeout))

    def reset(self, session_id: Hashable = 0, owner: Hashable = "default") -> None:
        """Forget the session's variables: its next call runs in a fresh kernel (files stay)."""
        self._loop.run(self._stop_kernel((owner, session_id)))

    async def areset(self, session_id: Hashable = 0, owner: Hashable = "default") -> None:
        await self._loop.arun(self._stop_kernel((owner, session_id)))

    def close_session(self, session_id: Hashable = 0, owner: Hashable = "default") -> None:
        """Stop the session's kernel and forget the session (other sessions are untouched)."""
        self._loop.run(self._close_session((owner, session_id)))

    async def aclose_session(self, session_id: Hashable = 0, owner: Hashable = "default") -> None:
        await self._loop.arun(self._close_session((owner, session_id)))

    def prewarm(self, timeout: Optional[float] = None) -> Optional[int]:
        """Wait until the warm spare is ready; returns its pid (None when spares are off)."""
        return self._loop.run(self._ready_spare(), timeout)

    async def aprewarm(self) -> Optional[int]:
        return await self._loop.arun(self._ready_spare())

    def close(self, timeout: float = 30.0) -> None:
        """Stop every kernel this object started (the spare included); idempotent."""
        if not self._closed:
            self._loop.run(self._close(), timeout)

    async def aclose(self) -> None:
        if not self._closed:
            await self._loop.arun(self._close())

    def __enter__(self) -> KernelSessions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- inspection --------------------------------------------------------------------------

    def work_dir(self, session_id: Hashable = 0, owner: Hashable = "default") -> Path:
        """The session's working directory (created on demand); outputs can be saved here.

        With a kernel user it belongs to that user (0700); the owner directory above it may be
        passed through but not listed.
        """
        owner_dir = self.work_root / safe_name(owner)
        path = owner_dir / safe_name(session_id)
        if self.user is None:
            path.mkdir(parents=True, exist_ok=True)
            return path
        owner_dir.mkdir(mode=0o711, exist_ok=True)
        owner_dir.chmod(0o711)
        return own_private_dir(path, self.user)

    def sessions(self) -> List[SessionKey]:
        return list(self._sessions)

    def kernel_pids(self) -> List[int]:
        """Process ids of the running kernels, the spare included."""
        kernels = [s.kernel for s in list(self._sessions.values()) if s.kernel is not None]
        spare = self._spare
        if spare is not None and spare.done() and not spare.cancelled() and not spare.exception():
            kernels.append(spare.result())
        return [k.pid for k in kernels if k.pid is not None]

    def session_kernel(
        self, session_id: Hashable = 0, owner: Hashable = "default"
    ) -> Optional[SiblingKernel]:
        session = self._sessions.get((owner, session_id))
        return session.kernel if session else None

    # -- implementation: coroutines that run on the kernel loop -----------------------------

    def _session(self, key: SessionKey) -> _Session:
        if self._closed:
            raise RuntimeError("this KernelSessions is closed; create a new one to run code")
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session(self.work_dir(key[1], key[0]))
        return session

    async def _execute(self, code: str, key: SessionKey, timeout: Optional[float]) -> Execution:
        session = self._session(key)
        async with session.lock:
            kernel = session.kernel
            if kernel is not None and not await kernel.is_alive():
                reason = kernel.exit_description()
                await self._discard(session)
                return Execution(
                    error=ExecutionError(
                        "KernelDied",
                        f"The kernel of session {key[1]!r} died after the previous call "
                        f"({reason}); this code did not run. A fresh kernel will run the next "
                        "call; variables defined earlier are lost.",
                    ),
                    kernel_restarted=True,
                )
            if kernel is None:
                kernel = session.kernel = await self._acquire(session.workdir)
            execution = await kernel.execute(code, timeout, self.policy)
            if execution.kernel_restarted:
                await self._discard(session)
            return execution

    async def _acquire(self, workdir: Path) -> SiblingKernel:
        """Take the warm spare if there is one (and start its replacement), else start one."""
        kernel = None
        spare, self._spare = self._spare, None
        self._schedule_spare()
        if spare is not None:
            try:
                kernel = await spare
            except Exception as exc:
                log.warning("the spare kernel failed to start, starting another: %s", exc)
            if kernel is not None and not await kernel.is_alive():
                await kernel.shutdown()
                kernel = None
        if kernel is None:
            kernel = await self._start()
        kernel.chdir(workdir)
        return kernel

    async def _start(self) -> SiblingKernel:
        async with self._starts:
            kernel = SiblingKernel(
                self.runtime_dir,
                self.work_root,
                dict(self._env),
                self.limits,
                self.kernel_name,
                self.user,
            )
            return await kernel.start(self.startup_timeout)

    def _schedule_spare(self) -> None:
        if self._spare_enabled and self._spare is None and not self._closed:
            self._spare = asyncio.ensure_future(self._start())

    async def _ready_spare(self) -> Optional[int]:
        self._schedule_spare()
        if self._spare is None:
            return None
        kernel = await asyncio.shield(self._spare)
        return kernel.pid

    async def _discard(self, session: _Session) -> None:
        kernel, session.kernel = session.kernel, None
        if kernel is not None:
            await kernel.shutdown()

    async def _stop_kernel(self, key: SessionKey) -> None:
        session = self._sessions.get(key)
        if session is not None:
            async with session.lock:
                await self._discard(session)

    async def _close_session(self, key: SessionKey) -> None:
        await self._stop_kernel(key)
        session = self._sessions.pop(key, None)
        if session is not None and self._owns_work_root:
            shutil.rmtree(session.workdir, ignore_errors=True)

    async def _close(self) -> None:
        self._closed = True
        with _registry_lock:
            _live.discard(self)
        spare, self._spare = self._spare, None
        kernels = [s.kernel for s in self._sessions.values() if s.kernel is not None]
        self._sessions.clear()
        if spare is not None:
            spare.cancel()
            # Cancelled mid-start: SiblingKernel.start already cleaned up after itself.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                kernels.append(await spare)
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        if self._owns_work_root:
            shutil.rmtree(self.work_root, ignore_errors=True)


def kernel_interpreter(kernel_name: str) -> str:
    """The executable a kernelspec starts (``python*`` means this Python, as in jupyter_client).

    An unknown kernelspec yields ``sys.executable``: starting it fails later with its own error.
    """
    try:
        command = KernelSpecManager().get_kernel_spec(kernel_name).argv[0]
    except (NoSuchKernel, IndexError):
        return sys.executable
    if command.startswith("python") and os.sep not in command:
        return sys.executable
    return shutil.which(command) or command


def default_kernels() -> KernelSessions:
    """The process-wide :class:`KernelSessions` the code actions share (one warm spare)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = KernelSessions()
        return _default


def shutdown_all(timeout: float = 30.0) -> None:
    """Stop every sibling kernel of this process.

    Registered with ``atexit``; the notebook layer also calls it from ``%unload_ext``.
    """
    with _registry_lock:
        managers = list(_live)
    for manager in managers:
        try:
            manager.close(timeout)
        except Exception as exc:  # keep stopping the others
            log.warning("could not close %r: %s", manager, exc)


atexit.register(shutdown_all)
