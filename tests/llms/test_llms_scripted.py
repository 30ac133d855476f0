"""ScriptedLLM / AsyncScriptedLLM: the shared test double behaves like a real BaseLLM."""

from __future__ import annotations

import pytest

from lagent_nb.llms import INTERNLM2_META, AsyncBaseLLM, BaseLLM
from lagent_nb.schema import ModelStatusCode
from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM, split_chunks

USER = [{"role": "user", "content": "hi"}]


def test_replies_are_consumed_in_order_then_index_error_names_the_call():
    llm = ScriptedLLM(["one", "two"])
    assert isinstance(llm, BaseLLM)
    assert llm.chat(USER) == "one"
    assert llm.chat(USER, session_ids=3) == "two"
    with pytest.raises(IndexError, match="call #3"):
        llm.chat(USER)
    assert llm.calls == [USER, USER, USER]


def test_callable_script_sees_the_messages():
    llm = ScriptedLLM(lambda messages: f"{len(messages)}:{messages[-1]['content']}")
    assert llm.chat([*USER, {"role": "assistant", "content": "x"}]) == "2:x"


def test_batch_of_conversations_gives_a_list():
    llm = ScriptedLLM(["a", "b"])
    assert llm.chat([USER, USER]) == ["a", "b"]


def test_stop_words_and_per_call_overrides_apply():
    llm = ScriptedLLM(["keep<stop>drop", "keep<x>drop"], stop_words="<stop>", temperature=0.1)
    assert llm.chat(USER) == "keep"
    assert llm.chat(USER, stop_words=["<x>"], temperature=0.5) == "keep"
    assert llm.gen_params_log[1]["temperature"] == 0.5
    assert llm.gen_params["temperature"] == 0.1
    assert llm.gen_params["stop_words"] == ["<stop>"]


def test_meta_template_renders_the_prompt():
    llm = ScriptedLLM(["ok"], meta_template=INTERNLM2_META)
    llm.chat(USER)
    assert llm.prompts == ["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"]


@pytest.mark.parametrize(
    ("text", "size", "chunks"),
    [
        ("hello  big world\n", None, ["hello  ", "big ", "world\n"]),
        (" lead", None, [" ", "lead"]),
        ("abcde", 2, ["ab", "cd", "e"]),
        ("", None, []),
    ],
)
def test_split_chunks(text, size, chunks):
    assert split_chunks(text, size) == chunks
    assert "".join(chunks) == text


def test_stream_chat_is_cumulative_and_ends_with_full_text():
    llm = ScriptedLLM(["a b c"], chunk_size=None)
    items = list(llm.stream_chat(USER, session_id=0))
    assert items == [
        (ModelStatusCode.STREAM_ING, "a ", None),
        (ModelStatusCode.STREAM_ING, "a b ", None),
        (ModelStatusCode.STREAM_ING, "a b c", None),
        (ModelStatusCode.END, "a b c", None),
    ]


async def test_async_twin_chat_and_stream():
    llm = AsyncScriptedLLM(["first", "abcd<end>zz"], chunk_size=3, stop_words=["<end>"])
    assert isinstance(llm, AsyncBaseLLM)
    assert await llm.chat(USER, 7) == "first"
    items = [item async for item in llm.stream_chat(USER, session_id=7)]
    assert [text for _, text, _ in items] == ["abc", "abcd", "abcd"]
    assert items[-1][0] == ModelStatusCode.END
    with pytest.raises(IndexError):
        await llm.chat(USER)
