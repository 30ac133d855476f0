"""The sans-IO pieces: message folding, bounded text, code extraction, secret scrubbing."""

from __future__ import annotations

from lagent_nb.actions.ipython_interpreter import clip, extract_code
from lagent_nb.kernels.collector import OutputCollector
from lagent_nb.kernels.environment import safe_name, scrub_environment
from lagent_nb.kernels.results import BoundedText


def msg(kind, content, parent="m1"):
    return {"msg_type": kind, "content": content, "parent_header": {"msg_id": parent}}


def test_collector_keeps_only_its_request_and_stops_at_its_idle():
    out = OutputCollector("m1")
    assert not out.feed(msg("stream", {"name": "stdout", "text": "stale"}, parent="m0"))
    assert not out.feed(msg("status", {"execution_state": "idle"}, parent="m0"))
    out.feed(msg("stream", {"name": "stdout", "text": "a"}))
    out.feed(msg("stream", {"name": "stderr", "text": "warn"}))
    transient = {"display_id": "d"}
    out.feed(msg("display_data", {"data": {"image/png": "iVBO"}, "transient": transient}))
    out.feed(msg("update_display_data", {"data": {"text/plain": "new"}, "transient": transient}))
    out.feed(msg("execute_result", {"data": {"text/plain": "3"}, "execution_count": 5}))
    assert out.feed(msg("status", {"execution_state": "idle"}))
    out.feed_reply({"content": {"status": "ok", "execution_count": 5}})
    execution = out.execution()
    assert execution.logs.stdout == "a" and execution.logs.stderr == "warn"
    assert execution.results[0].data == {"text/plain": "new"}
    assert execution.text == "3" and execution.execution_count == 5 and execution.ok


def test_collector_error_is_ansi_free_and_clear_output_waits():
    out = OutputCollector("m1")
    out.feed(msg("stream", {"name": "stdout", "text": "old"}))
    out.feed(msg("clear_output", {"wait": True}))
    out.feed(msg("stream", {"name": "stdout", "text": "new"}))
    tb = ["\x1b[0;31mValueError\x1b[0m", "boom"]
    out.feed(msg("error", {"ename": "ValueError", "evalue": "boom", "traceback": tb}))
    execution = out.execution()
    assert execution.logs.stdout == "new"
    assert execution.error.traceback == "ValueError\nboom"


def test_collector_bounds_the_number_of_rich_outputs():
    out = OutputCollector("m1", max_results=2)
    for _ in range(5):
        out.feed(msg("display_data", {"data": {"text/plain": "x"}}))
    execution = out.execution()
    assert len(execution.results) == 2
    assert "3 more rich outputs omitted" in execution.logs.stderr


def test_bounded_text_keeps_head_and_tail():
    text = BoundedText(10)
    for chunk in ["abc", "defgh", "ijklmnop", "qrstuvwxyz"]:
        text.append(chunk)
    rendered = str(text)
    assert rendered.startswith("abcde") and rendered.endswith("vwxyz")
    assert "16 characters omitted" in rendered
    unbounded = BoundedText(None)
    unbounded.append("x" * 1000)
    assert str(unbounded) == "x" * 1000


def test_extract_code_prefers_fences_then_backticks_then_json5():
    assert extract_code("see\n```py\na = 1\n```\nand `b`") == "a = 1\n"
    assert extract_code("run `a = 2` now") == "a = 2"
    assert extract_code("{code: 'a = 3'}") == "a = 3"
    assert extract_code("{'not': 'code'}") == "{'not': 'code'}"
    assert extract_code("a = 4") == "a = 4"


def test_clip_keeps_both_ends_within_the_limit():
    clipped = clip("H" * 50 + "T" * 50, 60)
    assert len(clipped) <= 60 and clipped[0] == "H" and clipped[-1] == "T"
    assert clip("short", None) == "short"


def test_scrub_environment_and_safe_names():
    env = {
        "OPENAI_API_KEY": "1",
        "gh_token": "2",
        "DB_PASSWORD": "3",
        "X_SECRET": "4",
        "HOME": "/h",
        "MINE": "5",
    }
    assert scrub_environment(env, ["MINE"]) == {"HOME": "/h"}
    assert safe_name("a/b") != safe_name("a_b")
    assert "/" not in safe_name("../../etc") and not safe_name("..").startswith(".")
