"""Child-process entry point that serves a GGUF model over llama.cpp's OpenAI-compatible HTTP API.

Run as ``python -m lagent_nb.llms._local_server --model FILE --parent-pid PID``. It is started and
stopped by :class:`lagent_nb.llms.local.EmbeddedLLM`; users never run it by hand.

The model lives in its own process so that a crash in native code, or a kernel restart, never takes
the Python interpreter of the notebook with it, and so that stopping the server frees its memory.
Once the server listens, one JSON line ``{"address": "http://127.0.0.1:PORT"}`` is printed on
stdout; llama.cpp's own log goes to stderr. When ``$LAGENT_NB_SERVER_API_KEY`` is set, the API
answers only requests that carry that key (``/health`` stays open).

The child must never outlive its parent. Two guards make sure of that:

- ``PR_SET_PDEATHSIG`` (Linux) asks the kernel to send SIGTERM when the parent dies, even on
  SIGKILL. The kernel ties that signal to the parent *thread* that spawned us, so the parent only
  asks for it (``--pdeathsig``) when it spawns from its main thread.
- A watchdog thread polls ``os.getppid()``: once we are re-parented, the parent is gone.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1
KEY_ENV = "LAGENT_NB_SERVER_API_KEY"  # the key clients must send; env, not argv, keeps it private


def _ask_kernel_for_parent_death_signal() -> None:
    """Have Linux send us SIGTERM when the spawning thread of the parent exits."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _watch_parent(parent_pid: int, stop: threading.Event, interval: float) -> None:
    """Set ``stop`` once ``parent_pid`` is no longer our parent: it died, we were re-parented."""
    while not stop.wait(interval):
        if os.getppid() != parent_pid:
            stop.set()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--alias", default="local-model", help="model name the API reports")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=1, help="requests decoded at once")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--pdeathsig", action="store_true", help="use PR_SET_PDEATHSIG (Linux)")
    parser.add_argument("--watch-interval", type=float, default=0.5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.pdeathsig:
        _ask_kernel_for_parent_death_signal()
    # The parent may have died between fork and prctl: then the signal would never come.
    if os.getppid() != args.parent_pid:
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(
        target=_watch_parent,
        args=(args.parent_pid, stop, args.watch_interval),
        name="parent-watchdog",
        daemon=True,
    ).start()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.model_alias = {args.alias}
    # Any web page open in a browser could reach 127.0.0.1; requests without the key get 401.
    key = os.environ.pop(KEY_ENV, "")
    if key:
        params.api_keys = [key]
    server = xllamacpp.Server(params)  # blocks until the model is loaded and the socket listens

    print(json.dumps({"address": server.listening_address}), flush=True)
    stop.wait()
    del server  # stops llama.cpp's HTTP threads and frees the model
    return 0


if __name__ == "__main__":
    sys.exit(main())
