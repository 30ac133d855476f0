"""Fixtures for the LLM tests: a loopback OpenAI-compatible server and a clean environment."""

from __future__ import annotations

import pytest

from lagent_nb.testing.openai_server import OpenAIServer


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    """Tests choose keys and endpoints explicitly; the developer's environment must not leak in."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
