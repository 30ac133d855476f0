"""Fixtures for the README examples: stand-ins for GPU/cloud models, event loops, kernels."""

from __future__ import annotations

import asyncio

import pytest

from lagent_nb.testing import ScriptedLLM


@pytest.fixture
def vllm_standin():
    """Build a replacement for ``VllmModel`` answering from a script.

    The README's examples build ``VllmModel(path=..., tp=1, **gen_params)``. vLLM needs a GPU,
    so the tests bind the name ``VllmModel`` to this factory: the example code stays as it is,
    and the generation settings, meta template and stop words go to a real ``BaseLLM`` subclass.
    """

    def make(replies):
        def VllmModel(path, tp=1, vllm_cfg=None, **gen_params):
            return ScriptedLLM(replies, path=path, **gen_params)

        return VllmModel

    return make


@pytest.fixture
def fresh_event_loop():
    """A current event loop for code calling ``asyncio.get_event_loop()``, as the README does."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.close()
        asyncio.set_event_loop(None)
