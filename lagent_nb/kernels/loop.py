"""A private event loop on a daemon thread, where every sibling kernel is driven.

Why not the caller's loop: kernels must outlive any one loop.  In a notebook the cell's loop is
ipykernel's own and a blocking wait on it would deadlock; pytest and ``asyncio.run`` create and
discard loops; a sync agent has no loop at all.  zmq's asyncio sockets are tied to the loop that
created them, so all of them live here and both the blocking API (``run``) and the async API
(``arun``, awaitable from any loop) hand coroutines to this thread.  That gives one code path
for every decision, written once with ``AsyncKernelManager``/``AsyncKernelClient``.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Awaitable, Optional, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_shared: Optional[KernelLoop] = None


class KernelLoop:
    """An event loop running forever on its own daemon thread."""

    def __init__(self, name: str = "lagent_nb-kernels") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Awaitable[T]) -> Future:
        if not self._thread.is_alive():
            raise RuntimeError("the lagent_nb kernel loop has stopped; restart the interpreter")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Awaitable[T], timeout: Optional[float] = None) -> T:
        """Block until ``coro`` finishes on the loop thread.

        Ctrl-C (or a notebook interrupt) cancels the coroutine, which interrupts the kernel it
        was waiting on, then re-raises ``KeyboardInterrupt`` here.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("blocking kernel call made from the kernel loop itself; await it")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    async def arun(self, coro: Awaitable[T]) -> T:
        """Await ``coro`` from any loop; cancelling the awaiting task cancels ``coro`` too."""
        if self.in_loop_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))


def shared_loop() -> KernelLoop:
    """The process-wide kernel loop, started on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = KernelLoop()
        return _shared
