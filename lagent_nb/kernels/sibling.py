"""One sibling kernel: start it, run code in it, stop it.  All methods run on the kernel loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import shutil
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from jupyter_client import AsyncKernelManager

from .collector import OutputCollector
from .identity import KernelUser, own_private_dir, user_environment
from .limits import (
    KernelLimits,
    ProcessCap,
    kill_descendants,
    make_preexec_fn,
    zombie_children,
)
from .results import Execution, ExecutionError
from .utf8_pipe import startup_arguments

log = logging.getLogger(__name__)

# Sent after stray processes were killed.  The kernel is their parent (and subreaper, see
# limits.py) and must reap them: zombies keep counting against the process cap.  It waits
# until no child is left, for at most two seconds.
_REAP_CODE = """\
import os as _lnb_os, time as _lnb_time
_lnb_end = _lnb_time.monotonic() + 2
while _lnb_time.monotonic() < _lnb_end:
    try:
        if not _lnb_os.waitpid(-1, _lnb_os.WNOHANG)[0]:
            _lnb_time.sleep(0.01)
    except ChildProcessError:
        break
del _lnb_os, _lnb_time, _lnb_end
"""


class KernelStartError(RuntimeError):
    """A sibling kernel could not be started."""


@dataclass(frozen=True)
class ExecutionPolicy:
    """How long to wait and how much to keep; shared by every kernel of a manager."""

    interrupt_grace: float = 3.0
    alive_poll: float = 0.5
    reply_timeout: float = 5.0
    max_output_chars: Optional[int] = 1_000_000
    max_results: int = 64


def describe_exit(returncode: Optional[int]) -> str:
    if returncode is None:
        return "it stopped responding"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"it was killed by {name}"
    return f"it exited with code {returncode}"


class SiblingKernel:
    """An ipykernel process plus the client talking to it over ``ipc`` sockets.

    Connection file and sockets live in ``runtime_dir`` (0700).  ``execute`` is the single
    execution loop (nbclient style): send, collect iopub until this request's ``idle``, read the
    shell reply, with an interrupt at the deadline and liveness checks while waiting.

    With a ``user`` the kernel drops to it before ``exec``; ``runtime_dir`` then belongs to that
    user (the kernel creates its ipc sockets there) and ``runtime_dir/home`` is its HOME.  Each
    kernel gets its own IPython directory, so command history never crosses sessions.
    """

    def __init__(
        self,
        runtime_dir: Path,
        cwd: Path,
        env: Dict[str, str],
        limits: KernelLimits,
        kernel_name: str = "python3",
        user: Optional[KernelUser] = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.user = user
        self.cap = ProcessCap(limits.max_processes, user)
        connection_file = str(runtime_dir / f"kernel-{self.id}.json")
        self.km = AsyncKernelManager(
            kernel_name=kernel_name,
            transport="ipc",
            ip=str(runtime_dir / f"k-{self.id}"),
            connection_file=connection_file,
        )
        self._private: Optional[Path] = None
        if user is not None:
            home = own_private_dir(runtime_dir / "home", user)  # shared by the manager's kernels
            self._private = own_private_dir(runtime_dir / f"ipython-{self.id}", user)
            env = {**env, **user_environment(user, home, self._private)}
        preexec = make_preexec_fn(limits, self.cap, user, connection_file)
        self._launch = dict(cwd=str(cwd), env=env, preexec_fn=preexec)
        self.kc = None
        self.workdir: Optional[Path] = None

    @property
    def pid(self) -> Optional[int]:
        provisioner = self.km.provisioner
        return getattr(provisioner, "pid", None) if provisioner else None

    @property
    def connection_file(self) -> str:
        return self.km.connection_file

    async def start(self, timeout: float) -> SiblingKernel:
        try:
            extra = startup_arguments(self.km.kernel_spec.argv)
            await self.km.start_kernel(extra_arguments=extra, **self._launch)
            self.kc = self.km.client()
            self.kc.allow_stdin = False
            self.kc.start_channels()
            await self.kc.wait_for_ready(timeout=timeout)
        except BaseException as exc:
            await self.shutdown()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            who = (
                ""
                if self.user is None
                else (
                    f" It runs as user {self.user.name!r} (KernelLimits.run_as): that user must be "
                    "able to read the kernel's Python and its packages; run_as=None keeps this "
                    "process's user."
                )
            )
            raise KernelStartError(
                f"could not start a sibling kernel ({self.km.kernel_name!r}) within {timeout} s: "
                f"{exc}. Check that ipykernel is installed for this Python and that the resource "
                f"limits (KernelLimits) leave it enough memory.{who}"
            ) from exc
        return self

    async def is_alive(self) -> bool:
        return self.km.has_kernel and await self.km.is_alive()

    def exit_description(self) -> str:
        process = getattr(self.km.provisioner, "process", None)
        return describe_exit(process.poll() if process is not None else None)

    def chdir(self, path: Path) -> None:
        """Move the kernel into ``path`` without waiting: requests are handled in order."""
        self.workdir = path
        self.kc.execute(
            f"import os as _lnb_os; _lnb_os.chdir({str(path)!r}); del _lnb_os",
            silent=True,
            store_history=False,
        )

    async def execute(
        self,
        code: str,
        timeout: Optional[float],
        policy: ExecutionPolicy,
        store_history: bool = True,
    ) -> Execution:
        """Run ``code``; never raises for problems of the code or the kernel, reports them.

        The returned ``Execution`` has ``kernel_restarted`` set when this kernel is no longer
        usable (it died, or ignored the interrupt): the caller replaces it.
        """
        loop = asyncio.get_running_loop()
        msg_id = self.kc.execute(
            code, store_history=store_history, allow_stdin=False, stop_on_error=True
        )
        out = OutputCollector(msg_id, policy.max_output_chars, policy.max_results)
        deadline = None if timeout is None else loop.time() + timeout
        interrupted_at: Optional[float] = None
        idle_at: Optional[float] = None
        try:
            while not (out.idle and out.replied):
                now = loop.time()
                if out.idle:
                    idle_at = idle_at or now
                    if now - idle_at >= policy.reply_timeout:
                        break  # every output is in; only the execution count is missing
                if interrupted_at is None and deadline is not None and now >= deadline:
                    interrupted_at = now
                    await self.km.interrupt_kernel()
                if interrupted_at is not None:
                    give_up = interrupted_at + policy.interrupt_grace
                    if now >= give_up:
                        return self._unresponsive(out, timeout, policy)
                    wait = min(policy.alive_poll, give_up - now)
                elif deadline is not None:
                    wait = min(policy.alive_poll, deadline - now)
                else:
                    wait = policy.alive_poll
                if not await self._pump(out, wait) and not await self.is_alive():
                    return self._died(out)
        except asyncio.CancelledError:
            # The caller gave up (Ctrl-C, task cancelled): stop the code and let the kernel
            # finish this request, or it would abort the next one (stop_on_error).
            with contextlib.suppress(Exception):
                await self._settle(out, policy)
            raise
        execution = out.execution()
        if interrupted_at is not None:
            execution.timed_out = True
            execution.error = _timeout_error(timeout, execution.error)
            killed = kill_descendants(self.pid, self.cap)
            if killed or zombie_children(self.pid):
                with self.cap.headroom(self.pid):
                    await self.execute(_REAP_CODE, 10, policy, store_history=False)
        return execution

    async def _settle(self, out: OutputCollector, policy: ExecutionPolicy) -> None:
        """Interrupt and wait (at most ``interrupt_grace``) until this request has ended."""
        await self.km.interrupt_kernel()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + policy.interrupt_grace
        while not (out.idle and out.replied) and loop.time() < give_up:
            await self._pump(out, min(policy.alive_poll, give_up - loop.time()))

    async def _pump(self, out: OutputCollector, wait: float) -> bool:
        """Move available messages into ``out``; False when nothing came within ``wait``."""
        got = False
        if not out.idle:
            try:
                out.feed(await self.kc.get_iopub_msg(timeout=wait))
                got = True
                while not out.idle:  # drain what is already queued without sleeping
                    out.feed(await self.kc.get_iopub_msg(timeout=0))
            except queue.Empty:
                pass
        if out.idle and not out.replied:
            try:
                reply = await self.kc.get_shell_msg(timeout=wait)
            except queue.Empty:
                return got
            if reply.get("parent_header", {}).get("msg_id") == out.msg_id:
                out.feed_reply(reply)
            got = True
        return got

    def _died(self, out: OutputCollector) -> Execution:
        execution = out.execution()
        execution.kernel_restarted = True
        execution.error = ExecutionError(
            "KernelDied",
            f"The kernel running this code died ({self.exit_description()}), e.g. a crash, "
            "os._exit or running out of memory. A fresh kernel will run the next call; "
            "variables defined earlier are lost.",
        )
        return execution

    def _unresponsive(
        self, out: OutputCollector, timeout: Optional[float], policy: ExecutionPolicy
    ) -> Execution:
        execution = out.execution()
        execution.timed_out = True
        execution.kernel_restarted = True
        execution.error = ExecutionError(
            "TimeoutError",
            f"The code did not finish within {timeout} s and the kernel ignored the interrupt "
            f"for {policy.interrupt_grace} s, so it was restarted; variables defined earlier "
            "are lost.",
        )
        return execution

    async def shutdown(self) -> None:
        """Stop the kernel and everything it started; safe to call more than once."""
        if self.kc is not None:
            self.kc.stop_channels()
        pid = self.pid
        try:
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)  # also removes the connection file
            else:
                await self.km.cleanup_resources()
        except Exception as exc:  # the process may already be gone
            log.debug("shutting down kernel %s: %s", self.id, exc)
        if pid is not None:
            kill_descendants(pid, self.cap)
        self.cap.remove()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)


def _timeout_error(timeout: Optional[float], raised: Optional[ExecutionError]) -> ExecutionError:
    """Name the KeyboardInterrupt our interrupt caused a timeout, keeping where it struck."""
    if raised is not None and raised.name != "KeyboardInterrupt":
        return raised  # the code failed on its own just as the deadline passed
    message = f"The code did not finish within {timeout} s and was interrupted."
    return ExecutionError("TimeoutError", message, raised.traceback if raised else "")
