"""The transcript bundle of messages: shape, Markdown folding, images, Unicode."""

from __future__ import annotations

import base64
import json

from lagent_nb.notebook.display import (
    TRANSCRIPT_MIME,
    Transcript,
    fenced,
    message_mimebundle,
    transcript,
)
from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage, AgentStatusCode

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def test_message_repr_gives_the_three_representations():
    bundle = AgentMessage(content="**héllo** 你好", sender="coder")._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown", TRANSCRIPT_MIME}
    data = bundle[TRANSCRIPT_MIME]
    assert data["version"] == 1 and data["title"] == "coder"
    (entry,) = data["messages"]
    assert entry == {
        "sender": "coder",
        "role": "assistant",
        "content": "**héllo** 你好",
        "tool_call": None,
        "tool_result": None,
        "streaming": False,
    }
    assert "**héllo** 你好" in bundle["text/markdown"]
    assert bundle["text/plain"] == "coder: **héllo** 你好"
    json.dumps(data)  # the front end receives it as JSON


def test_roles_follow_the_sender():
    msgs = [
        AgentMessage(content="q"),
        AgentMessage(content="sys", sender="system"),
        AgentMessage(content="a", sender="writer"),
        AgentMessage(content="r", sender="ActionExecutor"),
    ]
    roles = [m["role"] for m in transcript(msgs)["messages"]]
    assert roles == ["user", "system", "assistant", "tool"]


def test_interpreter_call_is_folded_and_shows_the_code():
    formatted = {
        "tool_type": "interpreter",
        "thought": "Let me plot.",
        "action": "plt.plot([1])",
        "status": 1,
    }
    msg = AgentMessage(
        content="Let me plot.<|action_start|>...", sender="coder", formatted=formatted
    )
    bundle = message_mimebundle(msg)
    entry = bundle[TRANSCRIPT_MIME]["messages"][0]
    assert entry["content"] == "Let me plot."
    assert entry["tool_call"] == {"name": "interpreter", "arguments": "plt.plot([1])"}
    assert "<details><summary>tool call: interpreter</summary>" in bundle["text/markdown"]
    assert "plt.plot([1])" in bundle["text/markdown"]


def test_function_call_dict_is_a_tool_call():
    msg = AgentMessage(content={"name": "search", "parameters": {"q": "héllo"}}, sender="bot")
    entry = transcript([msg])["messages"][0]
    assert entry["tool_call"] == {"name": "search", "arguments": '{"q": "héllo"}'}
    assert entry["content"] == ""


def test_tool_result_with_image_and_error():
    ok = ActionReturn(
        result=[
            {"type": "text", "content": "<Figure>"},
            {"type": "image", "content": {"mime": "image/png", "data": PNG}},
        ]
    )
    bad = ActionReturn(state=ActionStatusCode.API_ERROR, errmsg="NameError: x")
    msgs = [
        AgentMessage(content=ok, sender="ActionExecutor"),
        AgentMessage(content=bad, sender="ActionExecutor"),
    ]
    bundle = Transcript(msgs, "coder", 3)._repr_mimebundle_()
    first, second = bundle[TRANSCRIPT_MIME]["messages"]
    assert first["tool_result"] == {
        "ok": True,
        "text": "<Figure>",
        "images": [{"mime": "image/png", "data": PNG}],
    }
    assert second["tool_result"]["ok"] is False and "NameError: x" in second["tool_result"]["text"]
    assert f"data:image/png;base64,{PNG}" in bundle["text/markdown"]
    assert bundle[TRANSCRIPT_MIME]["session_id"] == "3"


def test_image_written_to_a_file_is_inlined(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"\x89PNGdata")
    ret = {"result": [{"type": "image", "content": str(path)}], "state": 0, "errmsg": None}
    entry = transcript([AgentMessage(content=ret, sender="ActionExecutor")])["messages"][0]
    assert entry["tool_result"]["images"] == [
        {"mime": "image/png", "data": base64.b64encode(b"\x89PNGdata").decode()}
    ]


def test_streaming_flag_and_fences_longer_than_content():
    msg = AgentMessage(content="par", sender="s", stream_state=AgentStatusCode.STREAM_ING)
    assert transcript([msg])["messages"][0]["streaming"] is True
    block = fenced("a ```` b", "py")
    assert block.startswith("`````py\n") and block.endswith("\n`````")


def test_interpreter_image_items_use_their_inline_data_and_mime(tmp_path):
    path = tmp_path / "0.jpg"
    path.write_bytes(b"jpeg-bytes-on-disk")
    item = {"type": "image", "content": str(path), "mime_type": "image/jpeg", "data": PNG}
    ret = ActionReturn(result=[item])
    entry = transcript([AgentMessage(content=ret, sender="ActionExecutor")])["messages"][0]
    assert entry["tool_result"]["images"] == [{"mime": "image/jpeg", "data": PNG}]
