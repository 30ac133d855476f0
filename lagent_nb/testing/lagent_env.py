"""A private virtual environment holding the real lagent 0.5.0rc3, for differential tests.

lagent_nb promises that lagent code runs unchanged after swapping the import prefix. The only
trustworthy oracle for that promise is lagent itself, but it cannot share our interpreter (same
top-level names for its dependencies, pinned versions, a pre-release on PyPI). So the tests and
benchmarks run lagent in a venv of its own, built once and cached:

* ``$LAGENT_NB_LAGENT_VENV`` names the venv when set, else
  ``~/.cache/lagent_nb/lagent-<version>-venv``;
* a marker file is written only after lagent imports with the expected version, so a build that
  was interrupted half-way is detected and redone rather than trusted;
* a file lock next to the venv keeps two processes (pytest-xdist workers, a benchmark and a test
  run) from building into the same directory at once;
* every step is bounded by a timeout, and any failure (registry unreachable, install error,
  timeout, lock held too long) becomes :class:`LagentUnavailable`, which tests turn into a skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Iterator, Optional

LAGENT_VERSION = "0.5.0rc3"
LAGENT_SPEC = f"lagent=={LAGENT_VERSION}"
ENV_VAR = "LAGENT_NB_LAGENT_VENV"
MARKER_NAME = ".lagent_nb-ready"
DEFAULT_TIMEOUT_S = 900.0


class LagentUnavailable(RuntimeError):
    """lagent's venv cannot be provided; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def default_venv_dir() -> pathlib.Path:
    """Where the venv lives: ``$LAGENT_NB_LAGENT_VENV`` or a per-user cache directory."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path.home() / ".cache" / "lagent_nb" / f"lagent-{LAGENT_VERSION}-venv"


def venv_python(venv_dir: pathlib.Path) -> pathlib.Path:
    """The interpreter inside ``venv_dir`` (POSIX and Windows layouts)."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def ensure_lagent_python(
    venv_dir: Optional[os.PathLike] = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    base_python: Optional[str] = None,
) -> pathlib.Path:
    """Return the python of a venv where ``import lagent`` gives lagent 0.5.0rc3.

    Builds the venv on first use (``pip install --pre lagent==0.5.0rc3``) and reuses it after.
    ``timeout`` bounds the whole call, including waiting for another process's build.
    Raises :class:`LagentUnavailable` when the venv cannot be built in time.
    """
    venv = pathlib.Path(venv_dir) if venv_dir is not None else default_venv_dir()
    deadline = time.monotonic() + timeout
    if _is_ready(venv):
        return venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(venv.with_name(venv.name + ".lock"), deadline):
        # Another process may have finished the build while we waited for the lock.
        if _is_ready(venv) or _adopt_existing(venv, deadline):
            return venv_python(venv)
        _build(venv, deadline, base_python or _base_interpreter())
    return venv_python(venv)


def _is_ready(venv: pathlib.Path) -> bool:
    return (venv / MARKER_NAME).is_file() and venv_python(venv).exists()


def _adopt_existing(venv: pathlib.Path, deadline: float) -> bool:
    """Accept a venv built by hand (no marker) if it already imports the right lagent."""
    if not venv_python(venv).exists():
        return False
    try:
        _check_version(venv, deadline)
    except LagentUnavailable:
        return False
    _write_marker(venv)
    return True


def _build(venv: pathlib.Path, deadline: float, base_python: str) -> None:
    if venv.exists():
        _remove_half_built(venv)
    _run([base_python, "-m", "venv", str(venv)], deadline, what="creating the venv")
    _run(
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--timeout",
            "30",
            "--retries",
            "2",
            "--pre",
            LAGENT_SPEC,
        ],
        deadline,
        what=f"pip install --pre {LAGENT_SPEC} (is PyPI reachable?)",
    )
    _check_version(venv, deadline)
    _write_marker(venv)


def _remove_half_built(venv: pathlib.Path) -> None:
    """Delete a previous failed build, but never a directory that is not a venv."""
    if any(venv.iterdir()) and not (venv / "pyvenv.cfg").is_file():
        raise LagentUnavailable(
            f"{venv} exists and is not a virtual environment; point ${ENV_VAR} elsewhere "
            "or remove the directory"
        )
    shutil.rmtree(venv)


def _check_version(venv: pathlib.Path, deadline: float) -> None:
    out = _run(
        [str(venv_python(venv)), "-c", "import lagent.version as v; print(v.__version__)"],
        deadline,
        what="importing lagent in its venv",
    )
    found = out.strip().splitlines()[-1] if out.strip() else ""
    if found != LAGENT_VERSION:
        raise LagentUnavailable(f"{venv} holds lagent {found!r}, expected {LAGENT_VERSION}")


def _write_marker(venv: pathlib.Path) -> None:
    tmp = venv / (MARKER_NAME + ".tmp")
    tmp.write_text(f"{LAGENT_SPEC}\n", encoding="utf-8")
    tmp.replace(venv / MARKER_NAME)


def _run(cmd: list, deadline: float, *, what: str) -> str:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise LagentUnavailable(f"ran out of time before {what}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=remaining,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise LagentUnavailable(f"timed out while {what}") from None
    except OSError as exc:
        raise LagentUnavailable(f"could not start {cmd[0]} while {what}: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise LagentUnavailable(f"failed while {what} (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _base_interpreter() -> str:
    """A python able to create venvs: the base of the current venv when running inside one."""
    return getattr(sys, "_base_executable", None) or sys.executable


@contextlib.contextmanager
def _build_lock(path: pathlib.Path, deadline: float) -> Iterator[None]:
    """An exclusive advisory lock on ``path``, polled until ``deadline``."""
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LagentUnavailable(
                        f"another process is still building {path.with_suffix('')}; try again later"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
