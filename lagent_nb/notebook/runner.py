"""Running one agent turn from the notebook, whatever kind of agent it is.

Agents come in four kinds (a value, a coroutine, a generator, an async generator). A ``Turn``
holds what does not depend on the kind: the throttled hand-off of streamed chunks to a view,
and the bookkeeping in ``activity``. The two runners below only wait differently:

* ``run_blocking`` runs the turn inside the executing cell. Sync agents run on the calling
  thread; async agents run to completion on the kernel's event loop (nest_asyncio makes the
  running loop re-entrant; IPython never awaits a coroutine that a magic returns).
* ``start_task`` schedules the turn as a task on the kernel's loop and returns at once, so
  the cell ends and widget clicks (Stop) are handled while the agent works (``--bg``).

An interrupt (kernel ■, a timeout, a Stop click) reaches the agent as ``KeyboardInterrupt`` or
``asyncio.CancelledError`` in ``forward``, where the agent core keeps memory consistent and
the kernels layer interrupts the sibling kernel a tool was waiting on; the caller gets a short
``AgentStopped`` or ``AgentTimeout`` instead of a wall of traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from lagent_nb.notebook import activity, lifecycle
from lagent_nb.notebook.lookup import ASYNC, ASYNC_STREAM, STREAM, agent_kind

OnDone = Callable[[Any, Optional[BaseException]], None]
STOP_GRACE_S = 5.0  # how long a cancelled async agent gets to unwind before we give up on it


class _Short:
    """Rendered by IPython as one line (``_render_traceback_``), not a traceback."""

    def _render_traceback_(self) -> list:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class AgentStopped(_Short, KeyboardInterrupt):
    """The turn was interrupted; memory holds the user's message and no partial reply."""


class AgentTimeout(_Short, TimeoutError):
    """The turn ran past its ``--timeout`` and was stopped like an interrupt."""


class Throttle:
    """Decides when a streamed message is worth sending to the front end again.

    At most one update per ``interval`` seconds, and never more than ``max_bytes_per_second``
    on average: each update re-sends the current message, so the wait grows with its size and
    the bytes sent stay proportional to the time spent streaming, not to the square of it.
    """

    def __init__(
        self,
        interval: float = 0.05,
        max_bytes_per_second: Optional[float] = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval, self.max_bytes_per_second, self.clock = interval, max_bytes_per_second, clock
        self._last: Optional[float] = None

    def due(self, size: int) -> bool:
        now = self.clock()
        wait = self.interval
        if self.max_bytes_per_second:
            wait = max(wait, size / self.max_bytes_per_second)
        if self._last is None or now - self._last >= wait:
            self._last = now
            return True
        return False


@dataclass
class Turn:
    """One message to one agent, and where its streamed chunks go."""

    agent: Any
    message: str
    session_id: Any = 0
    stream: bool = True
    timeout: Optional[float] = None
    on_update: Optional[Callable[[Any], None]] = None
    throttle: Throttle = field(default_factory=Throttle)
    label: str = "agent"
    run: Optional[activity.Run] = None

    @property
    def kind(self) -> str:
        return agent_kind(self.agent)

    def feed(self, chunk: Any) -> None:
        """A streamed chunk arrived: pass it on when the throttle allows."""
        if self.run is not None:
            self.run.partial = chunk
        if self.stream and self.throttle.due(len(str(getattr(chunk, "content", "")))):
            if self.on_update is not None:
                self.on_update(chunk)
            if self.run is not None:
                self.run.update(chunk)

    def call_sync(self) -> Any:
        """Run a sync or sync-streaming agent on this thread; the reply (last chunk)."""
        result = self.agent(self.message, session_id=self.session_id)
        if self.kind != STREAM:
            return result
        reply = None
        with contextlib.closing(result):  # an interrupted stream is closed now, not at GC
            for reply in result:
                self.feed(reply)
        return reply

    async def call_async(self) -> Any:
        """Run any agent as a coroutine; sync kinds simply block the loop while they run."""
        if self.kind == ASYNC:
            return await self.agent(self.message, session_id=self.session_id)
        if self.kind != ASYNC_STREAM:
            return self.call_sync()
        reply = None
        async with contextlib.aclosing(self.agent(self.message, session_id=self.session_id)) as it:
            async for reply in it:
                self.feed(reply)
        return reply

    def stopped(self, timed_out: bool) -> BaseException:
        """The short error that ends a stopped turn."""
        where = f"{self.label!r}, session {self.session_id!r}"
        if timed_out:
            return AgentTimeout(
                f"{where} ran past --timeout {self.timeout:g} s and was stopped; "
                "memory keeps your message, without a reply. Raise --timeout to wait longer."
            )
        return AgentStopped(f"{where} stopped; memory keeps your message, without a reply.")


def interrupt_thread(thread_id: int) -> None:
    """Raise KeyboardInterrupt in a thread: a real SIGINT for the main one, so a blocking
    call (``sleep``, a socket wait) wakes up as it does for the kernel's ■; asynchronously
    for other threads, at their next bytecode."""
    if thread_id == threading.main_thread().ident:
        signal.pthread_kill(thread_id, signal.SIGINT)
    else:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(KeyboardInterrupt)
        )


class _Alarm:
    """Interrupts the calling thread after ``timeout`` seconds unless disarmed first."""

    def __init__(self, timeout: Optional[float]):
        self.fired = False
        self._armed = True
        self._lock = threading.Lock()
        self._thread_id = threading.get_ident()
        self._timer = threading.Timer(timeout, self._fire) if timeout else None

    def _fire(self) -> None:
        with self._lock:
            if self._armed:
                self.fired = True
                interrupt_thread(self._thread_id)

    def __enter__(self) -> _Alarm:
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._armed = False
        if self._timer is not None:
            self._timer.cancel()


_private_loop: Optional[asyncio.AbstractEventLoop] = None


def kernel_loop() -> asyncio.AbstractEventLoop:
    """The loop async agents live on: the kernel's running loop, else one private loop.

    Outside a kernel (plain IPython, tests) no loop is running; one persistent loop keeps the
    resources that async agents bind to a loop (sibling-kernel clients) valid across cells.
    """
    global _private_loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    if _private_loop is None or _private_loop.is_closed():
        _private_loop = asyncio.new_event_loop()
    return _private_loop


def _run_until_complete(loop: asyncio.AbstractEventLoop, awaitable: Any) -> Any:
    if loop.is_running():
        lifecycle.make_reentrant(loop)
    return loop.run_until_complete(awaitable)


def run_blocking(turn: Turn) -> Any:
    """Run the turn inside the executing cell and return the reply."""
    turn.run = activity.start(turn.agent, turn.session_id)
    error: Optional[BaseException] = None
    try:
        if turn.kind in (ASYNC, ASYNC_STREAM):
            return _run_async_blocking(turn)
        with _Alarm(turn.timeout) as alarm:
            try:
                return turn.call_sync()
            except KeyboardInterrupt as exc:
                raise turn.stopped(timed_out=alarm.fired) from exc
    except BaseException as exc:
        error = exc
        raise
    finally:
        turn.run.finish(error)


@contextlib.contextmanager
def _sigint_cancels(loop: asyncio.AbstractEventLoop, task: asyncio.Task) -> Iterator[None]:
    """While an async turn runs in the cell, the first SIGINT (■) cancels its task.

    A KeyboardInterrupt raised wherever the main thread happens to be would land in the
    kernel's own callbacks as often as in the agent (the re-entrant loop runs both), and can
    leave the kernel stuck; a cancellation reaches the agent at its next ``await``, where
    the agent core expects it. A second SIGINT raises KeyboardInterrupt as usual, for an
    agent that blocks without awaiting.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hits = []

    def on_sigint(signum: int, frame: Any) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt
        loop.call_soon_threadsafe(task.cancel)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_async_blocking(turn: Turn) -> Any:
    loop = kernel_loop()
    task = loop.create_task(turn.call_async())
    turn.run.set_cancel(task.cancel)
    with _sigint_cancels(loop, task):
        try:
            return _run_until_complete(loop, asyncio.wait_for(asyncio.shield(task), turn.timeout))
        except (KeyboardInterrupt, asyncio.TimeoutError, asyncio.CancelledError) as exc:
            task.cancel()
            if not task.done():
                _run_until_complete(loop, asyncio.wait({task}, timeout=STOP_GRACE_S))
            raise turn.stopped(timed_out=isinstance(exc, asyncio.TimeoutError)) from None


def start_task(turn: Turn, on_done: Optional[OnDone] = None) -> Any:
    """Schedule the turn on the kernel's loop and return the task at once.

    ``on_done(reply, error)`` runs when the turn ends; with no loop running (plain IPython)
    the turn runs to completion before this returns.
    """
    turn.run = activity.start(turn.agent, turn.session_id)

    async def body() -> Any:
        reply, error = None, None
        try:
            reply = await asyncio.wait_for(turn.call_async(), turn.timeout)
        except asyncio.TimeoutError:
            error = turn.stopped(timed_out=True)
        except (asyncio.CancelledError, KeyboardInterrupt):
            error = turn.stopped(timed_out=False)
        except Exception as exc:
            error = exc
        turn.run.finish(error)
        if on_done is not None:
            on_done(reply, error)
        return reply

    loop = kernel_loop()
    task = loop.create_task(body())
    turn.run.set_cancel(task.cancel)
    if not loop.is_running():
        loop.run_until_complete(task)
    return task


def start_thread(turn: Turn, on_done: Optional[OnDone] = None) -> Any:
    """Run a sync agent's turn on a worker thread (chat panel): the kernel stays responsive.

    Stopping raises KeyboardInterrupt inside the worker, where the agent core handles it as
    it handles the kernel's ■. Python delivers it at the worker's next bytecode: a call
    blocked in C (a long ``time.sleep``, a socket read without timeout) finishes first. Async
    agents have no such delay, which is one more reason to prefer them in a panel.
    """
    turn.run = activity.start(turn.agent, turn.session_id)

    def body() -> None:
        reply, error = None, None
        try:
            with _Alarm(turn.timeout) as alarm:
                try:
                    reply = turn.call_sync()
                except KeyboardInterrupt:
                    error = turn.stopped(timed_out=alarm.fired)
        except Exception as exc:
            error = exc
        turn.run.finish(error)
        if on_done is not None:
            on_done(reply, error)

    worker = threading.Thread(target=body, name=f"lagent_nb turn {turn.label}", daemon=True)
    worker.start()
    turn.run.set_cancel(lambda: worker.ident and interrupt_thread(worker.ident))
    return worker
