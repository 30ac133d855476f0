"""DefaultAggregator and InternLMToolAggregator (expected values checked against lagent)."""

from typing import List, Optional

import pytest

from lagent_nb.agents import Agent
from lagent_nb.agents.aggregator import DefaultAggregator, InternLMToolAggregator
from lagent_nb.memory import Memory
from lagent_nb.prompts.parsers import InterpreterParser
from lagent_nb.schema import AgentMessage
from lagent_nb.testing import ScriptedLLM


def memory_of(*messages):
    memory = Memory()
    memory.add(list(messages))
    return memory


def m(sender, content, formatted=None):
    return AgentMessage(sender=sender, content=content, formatted=formatted)


class TestDefaultAggregator:
    def test_roles_and_concatenation_without_separator(self):
        memory = memory_of(m("u", "a"), m("v", "b"), m("me", 3), "c")
        out = DefaultAggregator().aggregate(memory, "me", None, "S")
        assert out == [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "ab"},
            {"role": "assistant", "content": "3"},
            {"role": "user", "content": "c"},
        ]

    def test_the_callers_template_is_never_mutated(self):
        template = [{"role": "user", "content": "T"}]
        memory = memory_of(m("u", "a"))
        first = DefaultAggregator().aggregate(memory, "me", None, template)
        second = DefaultAggregator().aggregate(memory, "me", None, template)
        assert first == second == [{"role": "user", "content": "Ta"}]
        assert template == [{"role": "user", "content": "T"}]

    def test_non_string_user_contents_are_joined_as_text(self):
        memory = memory_of(m("tool", {"k": 1}), m("user", "x"))
        out = DefaultAggregator().aggregate(memory, "me")
        assert out == [{"role": "user", "content": "{'k': 1}x"}]

    def test_system_instruction_forms_and_errors(self):
        agg = DefaultAggregator()
        assert agg.aggregate_system_intruction({"role": "system", "content": "x"}) == [
            {"role": "system", "content": "x"}
        ]
        assert agg.aggregate_system_instruction("y") == [{"role": "system", "content": "y"}]
        with pytest.raises(TypeError, match="Unsupported message type"):
            agg.aggregate_system_intruction(["no dict"])
        with pytest.raises(KeyError, match="Missing required key"):
            agg.aggregate_system_intruction([{"role": "system"}])
        with pytest.raises(TypeError, match="str, a dict or a list"):
            agg.aggregate_system_intruction(3)

    def test_missing_session_is_an_empty_conversation(self):
        assert DefaultAggregator().aggregate(None, "me", None, "S") == [
            {"role": "system", "content": "S"}
        ]


class FewshotAggregator(DefaultAggregator):
    """The README's example subclass: own __init__ without super(), own aggregate."""

    def __init__(self, few_shot: Optional[List[dict]] = None):
        self.few_shot = few_shot or []

    def aggregate(self, messages, name, parser=None, system_instruction=None):
        _message = []
        if system_instruction:
            _message.extend(self.aggregate_system_intruction(system_instruction))
        _message.extend(self.few_shot)
        for message in messages.get_memory():
            if message.sender == name:
                _message.append(dict(role="assistant", content=str(message.content)))
            elif _message and _message[-1]["role"] == "user":
                _message[-1]["content"] += message.content
            else:
                _message.append(dict(role="user", content=message.content))
        return _message


def test_readme_fewshot_aggregator_subclass_drives_an_agent():
    llm = ScriptedLLM(["【多云】"])
    shots = [{"role": "user", "content": "今天天气"}, {"role": "assistant", "content": "【晴】"}]
    agent = Agent(llm, "选一个字", aggregator=FewshotAggregator(shots))
    reply = agent(AgentMessage(sender="user", content="昨天天气"))
    assert reply.content == "【多云】" and reply.sender == "Agent"
    assert llm.calls[0] == [
        {"role": "system", "content": "选一个字"},
        {"role": "user", "content": "今天天气"},
        {"role": "assistant", "content": "【晴】"},
        {"role": "user", "content": "昨天天气"},
    ]


class TestInternLMToolAggregator:
    parser = InterpreterParser(template="INS")

    def test_full_prompt_order_few_shot_rerendering_and_environment_names(self):
        p = self.parser
        memory = memory_of(
            m("user", "q"),
            m(
                "me",
                "x",
                p.parse_response("think<|action_start|><|interpreter|>\nprint(1)<|action_end|>\n"),
            ),
            m("ActionExecutor", "1"),
            m("me", "bad", {"tool_type": None, "thought": "t", "action": None, "status": -1}),
            m("me", "done", p.parse_response("done")),
        )
        shots = [
            [
                {"role": "user", "content": "u"},
                {"role": "thought", "content": "th"},
                {"role": "tool", "name": "interpreter", "content": "code"},
                {"role": "environment", "content": "res"},
                {"role": "language", "content": "fin"},
            ]
        ]
        agg = InternLMToolAggregator(environment_begin="<B>", environment_end="<E>", few_shot=shots)
        out = agg.aggregate(memory, "me", p, "SYS")
        assert out == [
            {"role": "system", "content": "SYS"},
            {"role": "system", "content": "INS", "name": "interpreter"},
            {"role": "user", "content": "u"},
            {
                "role": "assistant",
                "content": "th<|action_start|><|interpreter|>\ncode<|action_end|>\n",
            },
            {"role": "environment", "content": "<B>res<E>"},
            {"role": "assistant", "content": "fin"},
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "think<|action_start|><|interpreter|>\nprint(1)<|action_end|>\n",
            },
            {"role": "environment", "content": "<B>1<E>", "name": "interpreter"},
            {"role": "assistant", "content": "done"},
        ]
        assert shots[0][3] == {"role": "environment", "content": "res"}, "few-shot not mutated"

    def test_unknown_few_shot_role_and_custom_user_names(self):
        with pytest.raises(KeyError, match="'robot'"):
            InternLMToolAggregator(few_shot=[[{"role": "robot", "content": "x"}]]).aggregate(
                Memory(), "me", self.parser
            )
        memory = memory_of(m("boss", "do it"), m("me", "plain reply"))
        out = InternLMToolAggregator(user_names=["boss"]).aggregate(memory, "me", self.parser)
        assert out[1:] == [
            {"role": "user", "content": "do it"},
            {"role": "assistant", "content": "plain reply"},
        ]
