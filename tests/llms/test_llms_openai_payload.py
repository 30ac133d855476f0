"""Request building for OpenAI-compatible APIs (pure functions, no server)."""

from __future__ import annotations

import pytest

from lagent_nb.llms import GPTAPI
from lagent_nb.llms.openai_protocol import (
    client_arguments,
    generate_request_data,
    resolve_api_base,
)

MESSAGES = [{"role": "user", "content": "x"}]
LAGENT_GPT_DEFAULTS = {
    "max_new_tokens": 512,
    "top_p": 0.8,
    "temperature": 0.8,
    "repetition_penalty": 0.0,
    "stop_words": None,
    "skip_special_tokens": False,
}


def test_gpt_payload_matches_lagent():
    # lagent 0.5.0rc3: GPTAPI().generate_request_data('gpt-4o', ..., json_mode=True)
    params = {**LAGENT_GPT_DEFAULTS, "stop_words": ["<x>"]}
    assert generate_request_data("gpt-4o", MESSAGES, params, json_mode=True) == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "n": 1,
        "top_p": 0.8,
        "temperature": 0.8,
        "max_tokens": 512,
        "stop": ["<x>"],
        "frequency_penalty": 0.0,
        "response_format": {"type": "json_object"},
    }


def test_internlm_payload_keeps_skip_special_tokens_like_lagent():
    assert generate_request_data("internlm2", MESSAGES, LAGENT_GPT_DEFAULTS) == {
        "model": "internlm2",
        "messages": MESSAGES,
        "n": 1,
        "top_p": 0.8,
        "temperature": 0.8,
        "skip_special_tokens": False,
        "max_tokens": 512,
        "stop": None,
        "frequency_penalty": 0.0,
    }


def test_any_model_name_no_token_cap_top_k_and_sessions_dropped():
    params = {"max_new_tokens": 32000, "top_k": 5, "session_id": 3, "temperature": 0}
    data = generate_request_data("llama3.2:1b", MESSAGES, params)
    assert data["max_tokens"] == 32000
    assert "top_k" not in data and "session_id" not in data
    assert data["model"] == "llama3.2:1b"


def test_reasoning_models_get_only_the_conversation():
    # lagent 0.5.0rc3 AsyncGPTAPI: {'model', 'messages', 'n'} for o1 models
    data = generate_request_data("o1-mini", MESSAGES, LAGENT_GPT_DEFAULTS, json_mode=True)
    assert data == {"model": "o1-mini", "messages": MESSAGES, "n": 1}
    assert "temperature" in generate_request_data("omni-local", MESSAGES, {"temperature": 1})


def test_max_tokens_alias_tools_and_invalid_length():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    data = generate_request_data("m", MESSAGES, {"max_tokens": 7}, tools=tools)
    assert data["max_tokens"] == 7 and data["tools"] == tools
    with pytest.raises(ValueError, match="max_new_tokens must be positive"):
        generate_request_data("m", MESSAGES, {"max_new_tokens": 0})


def test_client_arguments_route_extras_and_drop_nulls():
    data = generate_request_data("internlm2", MESSAGES, {**LAGENT_GPT_DEFAULTS, "stream": True})
    arguments = client_arguments(data)
    assert arguments["model"] == "internlm2" and arguments["stream"] is True
    assert arguments["extra_body"]["skip_special_tokens"] is False
    assert "stop" not in arguments["extra_body"]
    assert arguments["extra_body"]["messages"] == MESSAGES  # overrides the empty named list


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://h:1/v1/chat/completions", "http://h:1/v1"),
        ("http://h:1/v1/", "http://h:1/v1"),
        ("http://h:1/v1", "http://h:1/v1"),
        (None, "https://api.openai.com/v1"),
    ],
)
def test_resolve_api_base(given, base):
    assert resolve_api_base(given) == (base, base + "/chat/completions")


def test_openai_base_url_env_is_the_default(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://local:8000/v1")
    assert GPTAPI("m", key="k").url == "http://local:8000/v1/chat/completions"
    assert GPTAPI("m", key="k", api_base="http://x/v1").url == "http://x/v1/chat/completions"


def test_gptapi_gen_params_and_role_mapping():
    llm = GPTAPI("any-model", key="k", top_k=3, max_new_tokens=9, stop_words="<e>")
    assert "top_k" not in llm.gen_params
    assert llm.gen_params["stop_words"] == ["<e>"]
    assert llm.gen_params["skip_special_tokens"] is False
    header, data = llm.generate_request_data("any-model", MESSAGES, llm.gen_params)
    assert header == {"content-type": "application/json"}
    assert data["max_tokens"] == 9
    rendered = llm.template_parser(
        [{"role": "system", "content": "s"}, {"role": "environment", "content": "e"}]
    )
    assert rendered == [{"role": "system", "content": "s\ne"}]
