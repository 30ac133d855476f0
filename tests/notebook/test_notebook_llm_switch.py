"""``notebook_llm``: the visible switch between the default LLM and a scripted one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lagent_nb.notebook import notebook_llm
from lagent_nb.notebook.display import TRANSCRIPT_MIME, message_mimebundle
from lagent_nb.schema import AgentMessage
from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM


def test_scripted_mode_replays_the_script_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("LAGENT_NB_SCRIPTED", "1")
    llm = notebook_llm(script=["first", "second"])
    assert type(llm) is ScriptedLLM
    assert llm.chat([{"role": "user", "content": "q"}]) == "first"
    assert "LLM: ScriptedLLM (LAGENT_NB_SCRIPTED=1)" in capsys.readouterr().out
    assert type(notebook_llm(script=["x"], async_=True, quiet=True)) is AsyncScriptedLLM
    with pytest.raises(ValueError, match="gives no script"):
        notebook_llm()


def test_default_mode_uses_the_configured_endpoint_without_leaking_the_key(monkeypatch, capsys):
    monkeypatch.delenv("LAGENT_NB_SCRIPTED", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("OPENAI_MODEL", "served-model")
    llm = notebook_llm(script=["never used"])
    assert not isinstance(llm, ScriptedLLM)
    out = capsys.readouterr().out
    assert "default LLM" in out and "sk-secret-value" not in out


@given(
    st.one_of(
        st.text(),
        st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none())),
        st.lists(st.text()),
    ),
    st.text(),
)
def test_any_message_gives_a_json_serializable_bundle(content, sender):
    bundle = message_mimebundle(AgentMessage(content=content, sender=sender))
    json.dumps(bundle[TRANSCRIPT_MIME])
    assert isinstance(bundle["text/markdown"], str) and isinstance(bundle["text/plain"], str)


def test_request_timeout_reaches_the_default_llm_only(monkeypatch):
    monkeypatch.delenv("LAGENT_NB_SCRIPTED", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_MODEL", "served-model")
    assert notebook_llm(request_timeout=321.0, quiet=True).timeout == 321.0
    monkeypatch.setenv("LAGENT_NB_SCRIPTED", "1")
    assert type(notebook_llm(["x"], request_timeout=5.0, quiet=True)) is ScriptedLLM
