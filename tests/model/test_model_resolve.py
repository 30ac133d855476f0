"""Which LLM an agent gets: explicit arguments, then OPENAI_* variables, then the embedded model."""

from __future__ import annotations

import psutil
import pytest

from lagent_nb.llms import local
from lagent_nb.llms.local import get_default_llm, resolve_llm


@pytest.fixture
def no_openai_env(monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_a_model_name_without_a_server_is_refused(no_openai_env):
    with pytest.raises(ValueError, match=r"gpt-4o.*OPENAI_BASE_URL"):
        resolve_llm(model="gpt-4o")


def test_openai_api_without_a_model_name_is_refused(no_openai_env):
    with pytest.raises(ValueError, match="OPENAI_MODEL"):
        resolve_llm(api_key="sk-test")


def test_explicit_arguments_win(no_openai_env, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    llm = resolve_llm(model="served", base_url="http://127.0.0.1:8/v1", api_key="k", top_p=0.5)
    assert (llm.model_type, llm.base_url) == ("served", "http://127.0.0.1:8/v1")
    assert llm.gen_params["top_p"] == 0.5


def test_environment_selects_the_server(no_openai_env, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:7/v1/")
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    llm = resolve_llm(async_=True)
    assert type(llm).__name__ == "AsyncGPTAPI"
    assert (llm.model_type, llm.base_url) == ("env-model", "http://127.0.0.1:7/v1")


@pytest.mark.model
@pytest.mark.slow
def test_model_name_is_learned_from_the_server(no_openai_env, monkeypatch, embedded):
    monkeypatch.setenv("OPENAI_BASE_URL", embedded.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", embedded.api_key)
    llm = resolve_llm(max_new_tokens=8)
    assert llm.model_type == embedded.alias
    assert llm.chat([{"role": "user", "content": "Say OK."}]).strip()


def test_unreachable_server_without_model_name_says_what_to_do(no_openai_env):
    with pytest.raises(ValueError, match="pass model="):
        resolve_llm(base_url="http://127.0.0.1:9/v1")  # port 9 (discard) is closed


@pytest.mark.model
@pytest.mark.slow
def test_default_is_one_shared_embedded_server(no_openai_env, monkeypatch, needs_local_model):
    monkeypatch.setenv("LAGENT_NB_TEST_ACCESS_TOKEN", "s3cret")
    try:
        first = get_default_llm(max_new_tokens=8)
        server = local.default_server()
        second = get_default_llm(async_=True)
        assert first.base_url == second.base_url == server.base_url
        assert local.default_server() is server
        child = psutil.Process(server.pid)
        assert "LAGENT_NB_TEST_ACCESS_TOKEN" not in child.environ()
        assert first.chat([{"role": "user", "content": "Say OK."}]).strip()
    finally:
        local.stop_server()
    assert not server.running
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(child.pid).status()
