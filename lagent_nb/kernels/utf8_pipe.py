"""Keep multi-byte characters whole in the output a sibling kernel captures from its fds 1 and 2.

Why: ipykernel 7 points fds 1 and 2 at a pipe and a watcher thread per stream turns what it reads
there (output of subprocesses, ``!cmd``, C extensions) into text by decoding every ``os.read`` of
up to 1000 bytes on its own with ``errors="replace"``.  A character whose bytes straddle two
reads becomes two U+FFFD, so e.g. Chinese printed by a subprocess reaches the agent damaged.

The fix runs inside the kernel, once, at start-up (``--IPKernelApp.exec_lines``, see
``startup_arguments``): the ``os`` that ``ipykernel.iostream`` sees is replaced by a view whose
``read`` returns only whole UTF-8 sequences and keeps an incomplete tail (at most 3 bytes) for
the next read of that fd.  Decoding each returned chunk on its own then gives exactly what
decoding the whole stream at once gives: invalid bytes still become U+FFFD, nothing else does.

The watcher is usually already blocked in the real ``os.read`` when the fix is installed, and
would decode its next read the old way.  So the fix writes one NUL byte to each watched fd
(the wake-up byte ipykernel uses itself when closing a stream) and waits until the watcher asks
the new ``read`` for more: from then on every byte passes through it.  The NUL is published
during start-up with no parent message, so it belongs to no execution and is never part of a
tool's result.

This file is executed as source inside the kernel, which may run as another user with another
interpreter where ``lagent_nb`` cannot be imported: it uses nothing but the standard library,
and if ipykernel's internals are not what it expects it changes nothing and stays silent.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Tuple

_CONTINUATION = 0b1100_0000, 0b1000_0000  # (mask, value) of a UTF-8 continuation byte


def sequence_length(lead: int) -> int:
    """Bytes in the UTF-8 sequence a lead byte starts; 0 for ASCII and bytes no sequence starts."""
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def split_incomplete_tail(data: bytes) -> Tuple[bytes, bytes]:
    """``(head, tail)`` with ``tail`` the start of a sequence that more bytes could complete.

    ``tail`` is empty or 1 to 3 bytes.  Invalid bytes are never held back (they could not become
    valid later), so decoding ``head`` gives the same text as decoding it inside a longer stream.
    """
    mask, value = _CONTINUATION
    trailing = 0
    while trailing < min(3, len(data)) and data[-1 - trailing] & mask == value:
        trailing += 1
    start = len(data) - 1 - trailing
    if start < 0:
        return data, b""
    if trailing + 1 < sequence_length(data[start]):
        return data[:start], data[start:]
    return data, b""


class WholeCharacterReader:
    """``os.read`` for pipes carrying UTF-8: every chunk returned ends on a character boundary.

    A chunk may hold up to 3 bytes more than asked for (a tail carried over from the last read).
    ``b""`` is returned only at the end of the pipe, after any bytes still held back.
    """

    def __init__(self, read: Callable[[int, int], bytes]) -> None:
        self._read = read
        self._held: Dict[int, bytes] = {}
        self._asked = threading.Condition()
        self._fds_asked: set = set()

    def __call__(self, fd: int, size: int) -> bytes:
        with self._asked:
            self._fds_asked.add(fd)
            self._asked.notify_all()
        data = self._held.pop(fd, b"")
        while True:
            more = self._read(fd, size)
            if not more:
                return data  # the pipe ended: give back what was held, then b"" next time
            head, tail = split_incomplete_tail(data + more)
            if head:
                if tail:
                    self._held[fd] = tail
                return head
            data = tail  # only the start of one character so far: it needs more bytes

    def wait_until_asked(self, fd: int, timeout: float) -> bool:
        """Block until some thread has called this reader for ``fd``; False after ``timeout``."""
        with self._asked:
            return self._asked.wait_for(lambda: fd in self._fds_asked, timeout)


class _OsWithReader:
    """The ``os`` module, except for ``read``."""

    def __init__(self, real: object, read: WholeCharacterReader) -> None:
        self._real = real
        self.read = read

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def install(wake_timeout: float = 2.0) -> bool:
    """Route the watched output pipes of this ipykernel through ``WholeCharacterReader``.

    Returns whether it did; False (and nothing changed) where fds are not being watched or
    ipykernel is not built as expected.
    """
    try:
        import os
        import sys

        from ipykernel import iostream

        streams = [
            stream
            for stream in (sys.stdout, sys.stderr)
            if isinstance(stream, iostream.OutStream)
            and isinstance(getattr(stream, "_fid", None), int)
            and isinstance(getattr(stream, "_original_stdstream_fd", None), int)
            and getattr(getattr(stream, "watch_fd_thread", None), "is_alive", lambda: False)()
        ]
        if not streams or getattr(iostream, "os", None) is not os:
            return False
        reader = WholeCharacterReader(os.read)
        iostream.os = _OsWithReader(os, reader)
        for stream in streams:
            os.write(stream._original_stdstream_fd, b"\0")
        for stream in streams:
            reader.wait_until_asked(stream._fid, wake_timeout)
        return True
    except Exception:
        return False


def startup_arguments(kernel_argv: List[str]) -> List[str]:
    """Extra kernel arguments that run ``install`` at start-up; none for non-ipykernel kernels.

    The code travels as source so the kernel needs nothing but its own interpreter, and runs in
    a namespace of its own, leaving the user's namespace as it was.
    """
    if not any("ipykernel" in part for part in kernel_argv):
        return []
    from pathlib import Path

    source = Path(__file__).read_text("utf-8") + "\ninstall()\n"
    return [f"--IPKernelApp.exec_lines=exec({source!r}, {{'__name__': '_lagent_nb_utf8'}})"]
