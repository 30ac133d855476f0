"""Prompt rendering; expectations were produced by lagent 0.5.0rc3 (the oracle) and baked in."""

from __future__ import annotations

import pytest

from lagent_nb.llms import INTERNLM2_META, APITemplateParser, BaseLLM, LMTemplateParser

GPT_META = [
    {"role": "system", "api_role": "system"},
    {"role": "user", "api_role": "user"},
    {"role": "assistant", "api_role": "assistant"},
    {"role": "environment", "api_role": "system"},
]

DIALOG = [
    {"role": "system", "content": "sys"},
    {"role": "system", "content": "tools", "name": "plugin"},
    {"role": "user", "content": "q"},
    {"role": "assistant", "content": "a"},
    {"role": "environment", "content": "obs", "name": "interpreter"},
    {"role": "assistant", "content": "b", "name": "plugin"},
    {"role": "environment", "content": "e2", "name": "custom"},
]


def test_internlm2_full_dialog_matches_oracle():
    expected = (
        "<|im_start|>system\nsys<|im_end|>\n"
        "<|im_start|>system name=<|plugin|>\ntools<|im_end|>\n"
        "<|im_start|>user\nq<|im_end|>\n"
        "<|im_start|>assistant\na<|im_end|>\n"
        "<|im_start|>environment name=<|interpreter|>\nobs<|im_end|>\n"
        "<|im_start|>assistant name=<|plugin|>\nb<|im_end|>\n"
        "<|im_start|>environment name=custom\ne2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert LMTemplateParser(INTERNLM2_META)(DIALOG) == expected


def test_internlm2_last_assistant_message_gets_no_extra_begin():
    rendered = LMTemplateParser(INTERNLM2_META)(DIALOG[:4])
    assert rendered.endswith("<|im_start|>assistant\na<|im_end|>\n")


def test_unaliased_name_is_used_verbatim():
    rendered = LMTemplateParser(INTERNLM2_META)([{"role": "user", "content": "x", "name": "bob"}])
    assert rendered == "<|im_start|>user name=bob\nx<|im_end|>\n<|im_start|>assistant\n"


def test_generate_role_is_left_open_and_fallback_role_renders_as_its_target():
    meta = [
        {"role": "user", "begin": "U:", "end": "\n"},
        {"role": "assistant", "begin": "A:", "end": "\n", "generate": True},
        {"role": "tool", "fallback_role": "user"},
    ]
    parser = LMTemplateParser(meta)
    assert parser([{"role": "tool", "content": "t"}]) == "U:t\nA:"
    assert parser([{"role": "assistant", "content": "partial"}]) == "A:partial"


def test_unknown_role_and_duplicate_role_are_clear_errors():
    with pytest.raises(KeyError, match="'robot' is not in the meta template"):
        LMTemplateParser(INTERNLM2_META)([{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="appears twice"):
        LMTemplateParser([{"role": "user"}, {"role": "user"}])


def test_without_meta_template_contents_join_with_newlines():
    # lagent 0.5.0rc3 reads a 'prompt' key here and returns "\n\n"; joining the contents is
    # what its docs describe (deliberate difference).
    assert LMTemplateParser()(DIALOG[:3]) == "sys\ntools\nq"
    assert APITemplateParser()(DIALOG[:3]) == "sys\ntools\nq"


def test_api_parser_maps_roles_merges_neighbours_and_keeps_names():
    assert APITemplateParser(GPT_META)(DIALOG) == [
        {"role": "system", "content": "sys\ntools"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "system", "content": "obs", "name": "interpreter"},
        {"role": "assistant", "content": "b", "name": "plugin"},
        {"role": "system", "content": "e2", "name": "custom"},
    ]


def test_api_parser_merges_environment_into_system_and_consecutive_users():
    dialog = [
        {"role": "system", "content": "a"},
        {"role": "environment", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "user", "content": "d", "name": "n"},
    ]
    assert APITemplateParser(GPT_META)(dialog) == [
        {"role": "system", "content": "a\nb"},
        {"role": "user", "content": "c\nd"},
    ]
    assert dialog[0] == {"role": "system", "content": "a"}  # inputs are not mutated


def test_api_parser_rejects_bare_strings_with_advice():
    with pytest.raises(TypeError, match="wrap it as"):
        APITemplateParser(GPT_META)(["loose text"])


def test_base_llm_gen_params_defaults_and_overrides():
    llm = BaseLLM("m", stop_words="<eos>")
    assert llm.gen_params == {
        "max_new_tokens": 512,
        "top_p": 0.8,
        "top_k": 40,
        "temperature": 0.8,
        "repetition_penalty": 1.0,
        "stop_words": ["<eos>"],
    }
    merged = llm.update_gen_params(temperature=0.0, stop_words="<x>")
    assert merged["temperature"] == 0.0 and merged["stop_words"] == ["<x>"]
    assert llm.gen_params["temperature"] == 0.8 and llm.gen_params["stop_words"] == ["<eos>"]
    with pytest.raises(NotImplementedError, match="BaseLLM does not implement generate"):
        llm.chat([{"role": "user", "content": "x"}])
