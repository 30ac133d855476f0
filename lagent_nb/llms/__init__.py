"""LLM wrappers: completion models, OpenAI-compatible APIs, vLLM and the embedded local model.

Backends with heavy optional dependencies (vLLM, LMDeploy, the embedded model) are imported on
first attribute access, so ``import lagent_nb.llms`` stays cheap and works without them.
"""

from __future__ import annotations

import importlib
from typing import Any

from lagent_nb.llms.base_api import APITemplateParser, AsyncBaseAPILLM, BaseAPILLM
from lagent_nb.llms.base_llm import AsyncBaseLLM, BaseLLM, LMTemplateParser
from lagent_nb.llms.meta_template import INTERNLM2_META

_LAZY = {
    "LLMAPIError": "lagent_nb.llms.retry",
    "GPTAPI": "lagent_nb.llms.openai",
    "AsyncGPTAPI": "lagent_nb.llms.openai",
    "VllmModel": "lagent_nb.llms.vllm_wrapper",
    "AsyncVllmModel": "lagent_nb.llms.vllm_wrapper",
    "LMDeployPipeline": "lagent_nb.llms.lmdeploy_wrapper",
    "AsyncLMDeployPipeline": "lagent_nb.llms.lmdeploy_wrapper",
    "LMDeployServer": "lagent_nb.llms.lmdeploy_wrapper",
    "AsyncLMDeployServer": "lagent_nb.llms.lmdeploy_wrapper",
    "LMDeployClient": "lagent_nb.llms.lmdeploy_wrapper",
    "AsyncLMDeployClient": "lagent_nb.llms.lmdeploy_wrapper",
    "EmbeddedLLM": "lagent_nb.llms.local",
    "resolve_llm": "lagent_nb.llms.local",
    "get_default_llm": "lagent_nb.llms.local",
}

__all__ = [
    "INTERNLM2_META",
    "APITemplateParser",
    "AsyncBaseAPILLM",
    "AsyncBaseLLM",
    "BaseAPILLM",
    "BaseLLM",
    "LMTemplateParser",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
