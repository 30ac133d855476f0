"""``lagent_nb.llms`` stays cheap to import and exposes lagent's names."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_is_lazy_about_heavy_backends():
    code = (
        "import sys, lagent_nb.llms as m; "
        "print(sorted(k for k in ('openai', 'vllm', 'lmdeploy', 'httpx') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lagent_names_resolve():
    import lagent_nb.llms as llms

    names = (
        "GPTAPI",
        "AsyncGPTAPI",
        "VllmModel",
        "AsyncVllmModel",
        "INTERNLM2_META",
        "LLMAPIError",
    )
    for name in names:
        assert getattr(llms, name) is not None
        assert name in dir(llms)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchLLM'"):
        llms.NoSuchLLM  # noqa: B018
