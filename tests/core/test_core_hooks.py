"""Hooks: handles, the stock action processors and the message logger."""

import logging
from types import SimpleNamespace

import pytest

from lagent_nb.hooks import (
    ActionPreprocessor,
    Hook,
    InternLMActionProcessor,
    MessageLogger,
    RemovableHandle,
)
from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage, FunctionCall


class TestRemovableHandle:
    def test_ids_are_unique_and_remove_is_idempotent(self):
        table = {}
        first, second = RemovableHandle(table), RemovableHandle(table)
        assert first.id != second.id
        table[first.id] = "a"
        table[second.id] = "b"
        first.remove()
        first.remove()
        assert table == {second.id: "b"}

    def test_context_manager_removes_on_exit(self):
        table = {}
        with RemovableHandle(table) as handle:
            table[handle.id] = "hook"
            assert "active=True" in repr(handle)
        assert table == {}
        assert "active=False" in repr(handle)


def test_base_hook_methods_are_observers():
    hook = Hook()
    message = AgentMessage(content="x")
    assert hook.before_agent(None, [message], 0) is None
    assert hook.after_agent(None, message, 0) is None
    assert hook.before_action(None, message, 0) is None
    assert hook.after_action(None, message, 0) is None


class TestActionPreprocessor:
    @pytest.mark.parametrize(
        "formatted",
        [
            FunctionCall(name="calc", parameters={"x": 1}),
            {"name": "calc", "parameters": {"x": 1}},
            {"thought": "t", "action": {"name": "calc", "parameters": {"x": 1}}},
        ],
    )
    def test_every_parser_shape_becomes_a_call(self, formatted):
        message = AgentMessage(sender="bot", content="raw", formatted=formatted)
        out = ActionPreprocessor().before_action(None, message, 0)
        assert out.content == {"name": "calc", "parameters": {"x": 1}}

    @pytest.mark.parametrize(
        "formatted",
        [{"thought": "no call"}, {"action": {"name": "calc"}}, None, "text"],
    )
    def test_a_reply_without_a_call_passes_through_unchanged(self, formatted):
        message = AgentMessage(sender="bot", content="raw", formatted=formatted)
        assert ActionPreprocessor().before_action(None, message, 0) is None
        assert message.content == "raw" and message.formatted == formatted

    def test_after_action_reports_result_text_or_error_message(self):
        hook = ActionPreprocessor()
        ok = ActionReturn(
            result=[{"type": "text", "content": "42"}, {"type": "image", "content": "p.png"}]
        )
        failed = ActionReturn(errmsg="boom", state=ActionStatusCode.API_ERROR)
        assert hook.after_action(None, AgentMessage(content=ok), 0).content == "42\n[image](p.png)"
        assert hook.after_action(None, AgentMessage(content=failed), 0).content == "boom"
        assert hook.after_action(None, AgentMessage(content="plain"), 0).content == "plain"


class TestInternLMActionProcessor:
    def parsed(self, action):
        return AgentMessage(
            sender="bot",
            content="raw",
            formatted={"tool_type": "interpreter", "thought": "t", "action": action, "status": 1},
        )

    def test_code_string_goes_to_the_first_action(self):
        executor = SimpleNamespace(actions={"IPythonInteractive": object(), "Other": object()})
        message = self.parsed("print(1)")
        out = InternLMActionProcessor().before_action(executor, message, 9)
        assert out.content == {"name": "IPythonInteractive", "parameters": {"command": "print(1)"}}
        assert message.formatted["action"] == "print(1)", "the caller's message is not mutated"

    def test_session_aware_interpreter_gets_the_session_and_custom_parameter(self):
        executor = SimpleNamespace(actions={"AsyncIPythonInterpreter": object()})
        out = InternLMActionProcessor(code_parameter="code").before_action(
            executor, self.parsed("1+1"), "s-3"
        )
        assert out.content["parameters"] == {"code": "1+1", "session_id": "s-3"}

    def test_plugin_call_dicts_pass_through(self):
        call = {"name": "search", "parameters": {"q": "x"}}
        out = InternLMActionProcessor().before_action(
            SimpleNamespace(actions={}), self.parsed(call), 0
        )
        assert out.content == call

    @pytest.mark.parametrize(
        "formatted",
        [
            {"action": "code"},  # not a ToolParser result
            {"tool_type": "plugin", "thought": "t", "action": '{"name": ', "status": -1},
            None,
        ],
    )
    def test_non_tool_calls_and_parsing_errors_pass_through(self, formatted):
        executor = SimpleNamespace(actions={"IPythonInteractive": object()})
        bad = AgentMessage(content="x", formatted=formatted)
        assert InternLMActionProcessor().before_action(executor, bad, 0) is None
        assert bad.content == "x" and bad.formatted == formatted


class TestMessageLogger:
    def capture(self, logger_name):
        records = []

        class Collect(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        logging.getLogger(logger_name).addHandler(Collect())
        return records

    def test_logs_each_message_with_session_and_sender(self):
        hook = MessageLogger(name="test-core-hooks-log")
        records = self.capture("test-core-hooks-log")
        hook.before_agent(None, [AgentMessage(content="hello", sender="alice")], 4)
        hook.after_agent(None, AgentMessage(content="hi", sender="bot"), 4)
        assert len(records) == 2
        assert "session id: 4, message sender: alice\nhello" in records[0]
        assert "message sender: bot" in records[1]

    def test_secrets_never_reach_the_log(self):
        hook = MessageLogger(name="test-core-hooks-secret")
        records = self.capture("test-core-hooks-secret")
        leaked = (
            "use sk-ABCDEF1234567890abcd and Authorization: Bearer tok_0123456789 api_key=hunter22"
        )
        hook.after_action(None, AgentMessage(content=leaked, sender="tool"), 0)
        text = records[0]
        for secret in ("sk-ABCDEF1234567890abcd", "tok_0123456789", "hunter22"):
            assert secret not in text
        assert "***" in text

    def test_repeated_construction_does_not_duplicate_output(self):
        MessageLogger(name="test-core-hooks-dup")
        MessageLogger(name="test-core-hooks-dup")
        own = [h for h in logging.getLogger("test-core-hooks-dup").handlers]
        assert len(own) == 1
