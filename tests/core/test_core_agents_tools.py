"""Tool-using agents: ReAct, AgentForInternLM and MathCoder (sync and async), with real actions."""

import asyncio
from typing import Dict

import pytest
from pydantic import BaseModel, Field

from lagent_nb.actions import ActionExecutor, AsyncActionMixin, BaseAction, tool_api
from lagent_nb.agents import (
    Agent,
    AgentForInternLM,
    AsyncAgentForInternLM,
    AsyncMathCoder,
    AsyncReAct,
    MathCoder,
    ReAct,
)
from lagent_nb.agents.aggregator import InternLMToolAggregator
from lagent_nb.agents.stream import get_plugin_prompt
from lagent_nb.hooks import Hook
from lagent_nb.prompts.parsers import (
    InterpreterParser,
    JSONParser,
    MixedToolParser,
    PluginParser,
    ToolParser,
)
from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage
from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM


class Adder(BaseAction):
    """Adds numbers."""

    @tool_api
    def run(self, a: int, b: int) -> dict:
        """Add two integers.

        Args:
            a (int): first addend
            b (int): second addend
        """
        return {"sum": a + b}


class AsyncAdder(AsyncActionMixin, Adder):
    @tool_api
    async def run(self, a: int, b: int) -> dict:
        """Add two integers.

        Args:
            a (int): first addend
            b (int): second addend
        """
        await asyncio.sleep(0)
        return {"sum": a + b}


class ActionCall(BaseModel):
    name: str = Field(description="tool name")
    parameters: Dict = Field(description="tool arguments")


class ActionFormat(BaseModel):
    thought_process: str = Field(description="what you know so far")
    action: ActionCall = Field(description="the tool to call")


class FinishFormat(BaseModel):
    thought_process: str = Field(description="what you know so far")
    conclusion: str = Field(description="the answer")


CALL = '{"thought_process": "add", "action": {"name": "%s", "parameters": {"a": 1, "b": 2}}}'
DONE = '{"thought_process": "known", "conclusion": "3"}'


def react_parts():
    parser = JSONParser(
        "call: {function_format}\nor finish: {finish_format}",
        function_format=ActionFormat,
        finish_format=FinishFormat,
    )
    return parser, "Tools: {action_info}\n{output_format}"


def transcript(agent, key, session_id=0):
    return [(m["sender"], m["content"]) for m in agent.state_dict(session_id)[key]]


class TestReAct:
    def test_tool_loop_until_conclusion(self):
        parser, template = react_parts()
        llm = ScriptedLLM([CALL % "Adder", DONE])
        agent = ReAct(llm=llm, actions=[Adder()], template=template, output_format=parser)
        reply = agent("1 + 2?")
        assert reply.formatted == {"thought_process": "known", "conclusion": "3"}
        assert list(agent.state_dict()) == ["memory", "select_agent.memory"]
        assert transcript(agent, "select_agent.memory") == [
            ("user", "1 + 2?"),
            ("Agent", CALL % "Adder"),
            ("ActionExecutor", '{"sum": 3}'),
            ("Agent", DONE),
        ]
        system = llm.calls[0][0]
        assert system["role"] == "system" and '"name": "Adder"' in system["content"]
        assert "conclusion" in system["content"]

    def test_max_turn_bounds_the_loop(self):
        parser, template = react_parts()
        llm = ScriptedLLM([CALL % "Adder"] * 2)
        agent = ReAct(llm, [Adder()], template, output_format=parser, max_turn=2)
        reply = agent("loop")
        assert reply.sender == "ActionExecutor" and len(llm.calls) == 2

    async def test_async_react(self):
        parser, template = react_parts()
        llm = AsyncScriptedLLM([CALL % "AsyncAdder", DONE])
        agent = AsyncReAct(llm=llm, actions=[AsyncAdder()], template=template, output_format=parser)
        reply = await agent("1 + 2?", session_id=4)
        assert reply.formatted["conclusion"] == "3"
        assert transcript(agent, "select_agent.memory", 4)[2][1] == '{"sum": 3}'


class LooseActionFormat(BaseModel):
    thought_process: str = Field(description="what you know so far")
    action: Dict = Field(description="the tool to call, as {name, parameters}")


class TestMalformedToolCalls:
    """A reply the hooks cannot turn into a call reaches the model as an error; the loop goes on."""

    def test_react_loop_reports_the_bad_call_and_recovers(self):
        parser = JSONParser("{act} or {finish}", act=LooseActionFormat, finish=FinishFormat)
        bad = '{"thought_process": "add", "action": {"tool": "Adder"}}'
        llm = ScriptedLLM([bad, CALL % "Adder", DONE])
        agent = ReAct(llm, [Adder()], "{action_info} {output_format}", output_format=parser)
        reply = agent("1 + 2?")
        assert reply.formatted["conclusion"] == "3"
        feedback = llm.calls[1][-1]
        assert feedback["role"] == "user"
        assert feedback["content"].startswith("malformed tool call")
        assert "'name'" in feedback["content"] and "Adder" in feedback["content"]
        assert llm.calls[2][-1] == {"role": "user", "content": '{"sum": 3}'}

    @pytest.mark.parametrize("asynchronous", [False, True])
    async def test_internlm_loop_reports_a_parsing_error_and_recovers(self, asynchronous):
        tool = AsyncAdder() if asynchronous else Adder()
        garbled = 'call<|action_start|><|plugin|>\n{"name": "Adder", <|action_end|>\n'
        replies = [garbled, PLUGIN_CALL % tool.name, "answer 7"]
        if asynchronous:
            llm = AsyncScriptedLLM(replies)
            agent = AsyncAgentForInternLM(llm, plugins=[tool], output_format=plugin_format(tool))
            reply = await agent("2 + 5?")
        else:
            llm = ScriptedLLM(replies)
            agent = AgentForInternLM(llm, plugins=[tool], output_format=plugin_format(tool))
            reply = agent("2 + 5?")
        assert reply.content == "answer 7"
        error = llm.calls[1][-1]
        assert error["role"] == "environment"
        assert error["content"].startswith("malformed tool call")
        assert '{"name": "Adder",' in error["content"], "the model sees what it wrote"
        assert llm.calls[2][-1]["content"] == '{"sum": 7}'


PLUGIN_CALL = (
    'call<|action_start|><|plugin|>\n{"name": "%s", "parameters": {"a": 2, "b": 5}}<|action_end|>\n'
)


def plugin_format(action):
    return dict(
        type=MixedToolParser,
        template="META",
        parsers=[
            dict(type=PluginParser, template="P {prompt}", prompt=get_plugin_prompt([action])),
            dict(type=InterpreterParser, template="I"),
        ],
    )


class TestAgentForInternLM:
    def test_plugin_call_then_answer_and_steps(self):
        llm = ScriptedLLM([PLUGIN_CALL % "Adder", "answer 7"])
        agent = AgentForInternLM(llm, plugins=[Adder()], output_format=plugin_format(Adder()))
        reply = agent("2 + 5?")
        assert reply.content == "answer 7"
        assert list(agent.state_dict()) == ["memory", "agent.memory"]
        assert agent.get_steps(0) == [
            {"role": "thought", "content": "call"},
            {
                "role": "tool",
                "content": {"name": "Adder", "parameters": {"a": 2, "b": 5}},
                "name": "plugin",
            },
            {"role": "environment", "content": '{"sum": 7}', "name": "plugin"},
            {"role": "thought", "content": "answer 7"},
        ]
        assert llm.calls[1][-1] == {
            "role": "environment",
            "content": '{"sum": 7}',
            "name": "plugin",
        }
        assert llm.calls[1][1]["name"] == "plugin" and '"Adder"' in llm.calls[1][1]["content"]

    def test_missing_executor_is_a_clear_error_and_no_tools_warns(self):
        llm = ScriptedLLM(["code<|action_start|><|interpreter|>\nprint(1)<|action_end|>\n"])
        with pytest.warns(UserWarning, match="neither plugins nor an interpreter"):
            agent = AgentForInternLM(llm, output_format=plugin_format(Adder()))
        with pytest.raises(RuntimeError, match="no interpreter_executor"):
            agent("run code")

    def test_default_output_format_needs_the_plugin_prompt(self):
        with pytest.raises(ValueError, match="prompt"):
            AgentForInternLM(ScriptedLLM([]), plugins=[Adder()])

    async def test_async_plugin_call(self):
        llm = AsyncScriptedLLM([PLUGIN_CALL % "AsyncAdder", "answer 7"])
        agent = AsyncAgentForInternLM(
            llm, plugins=[AsyncAdder()], output_format=plugin_format(AsyncAdder())
        )
        reply = await agent("2 + 5?", session_id="s")
        assert reply.content == "answer 7"
        assert agent.get_steps("s")[2] == {
            "role": "environment",
            "content": '{"sum": 7}',
            "name": "plugin",
        }


class Calculator(BaseAction):
    """A code 'interpreter' that evaluates one Python expression."""

    @tool_api
    def run(self, command: str) -> str:
        """Evaluate an expression.

        Args:
            command (str): a Python expression
        """
        return str(eval(command, {}))


class RecordingInterpreter(AsyncActionMixin, Calculator):
    """Async code action that records which sessions were closed."""

    closed: list

    @tool_api
    async def run(self, command: str) -> str:
        """Evaluate an expression.

        Args:
            command (str): a Python expression
        """
        return str(eval(command, {}))

    async def close_session(self, session_id):
        self.closed.append(session_id)


CODE = "compute<|action_start|><|interpreter|>\n6 * 7<|action_end|>\n"


class TestMathCoder:
    def test_default_interpreter_and_instruction(self):
        agent = MathCoder(ScriptedLLM([]))
        interpreter = agent.interpreter_executor.actions["IPythonInteractive"]
        assert (interpreter.timeout, interpreter._max_out_len) == (20, 8192)
        assert agent.max_turn == 6 and agent.plugin_executor is None
        instruction = agent.agent.output_format.format_instruction()
        assert r"\boxed{}" in instruction

    def test_code_turn_with_a_custom_interpreter(self):
        llm = ScriptedLLM([CODE, r"The answer is $\boxed{42}$"])
        agent = MathCoder(llm, interpreter=Calculator())
        reply = agent("6 times 7?")
        assert reply.content == r"The answer is $\boxed{42}$"
        env = llm.calls[1][-1]
        assert env == {"role": "environment", "content": "42", "name": "interpreter"}
        assert list(agent.state_dict()) == ["memory", "agent.memory"]

    def test_positional_arguments_follow_lagent_order(self):
        agent = MathCoder(ScriptedLLM([]), Calculator(), "SYSTEM")
        assert agent.agent.template == "SYSTEM"

    @pytest.mark.slow
    def test_default_interpreter_runs_code_in_a_real_kernel(self):
        llm = ScriptedLLM(
            ["go<|action_start|><|interpreter|>\nprint(6 * 7)<|action_end|>\n", "done"]
        )
        agent = MathCoder(llm)
        interpreter = agent.interpreter_executor.actions["IPythonInteractive"]
        try:
            agent("6 times 7?")
        finally:
            interpreter.close_session(0)
        assert "42" in llm.calls[1][-1]["content"]

    async def test_async_math_coder_closes_the_session_even_on_error(self):
        interpreter = RecordingInterpreter()
        interpreter.closed = []
        llm = AsyncScriptedLLM([CODE, "done"])
        agent = AsyncMathCoder(llm, interpreter=interpreter)
        assert (await agent("q", session_id=3)).content == "done"
        assert llm.calls[1][-1]["content"] == "42"

        def fail(messages):
            raise ConnectionError("down")

        failing = AsyncMathCoder(AsyncScriptedLLM(fail), interpreter=interpreter)
        with pytest.raises(ConnectionError):
            await failing("q", session_id=8)
        assert interpreter.closed == [3, 8]


class CodeProcessor(Hook):
    """README hook: turns ToolParser output into a call and the ActionReturn into text."""

    def before_action(self, executor, message, session_id):
        message = message.model_copy(deep=True)
        message.content = dict(
            name="Calculator", parameters={"command": message.formatted["action"]}
        )
        return message

    def after_action(self, executor, message, session_id):
        result = message.content
        if isinstance(result, ActionReturn):
            message.content = (
                result.format_result()
                if result.state == ActionStatusCode.SUCCESS
                else result.errmsg
            )
        return message


class Coder(Agent):
    """README's math coder, with a pure-Python calculator instead of IPython."""

    def __init__(self, llm, system_prompt, max_turn=3):
        super().__init__()
        self.agent = Agent(
            llm,
            system_prompt,
            output_format=ToolParser(
                tool_type="code interpreter", begin="```python\n", end="\n```\n"
            ),
            aggregator=InternLMToolAggregator(),
        )
        self.executor = ActionExecutor([Calculator()], hooks=[CodeProcessor()])
        self.max_turn = max_turn

    def forward(self, message, session_id=0):
        for _ in range(self.max_turn):
            message = self.agent(message, session_id=session_id)
            if message.formatted["tool_type"] is None:
                return message
            message = self.executor(message, session_id=session_id)
        return message


def test_readme_coder_example():
    llm = ScriptedLLM(["Let me compute.\n```python\n2 * 21\n```\n", "So it is 42."])
    coder = Coder(llm, "Solve step by step with Python")
    answer = coder(AgentMessage(sender="user", content="What is 2 * 21?"))
    assert answer.content == "So it is 42."
    steps = [(m["sender"], m["content"]) for m in coder.state_dict()["agent.memory"]]
    assert steps == [
        ("user", "What is 2 * 21?"),
        ("Agent", "Let me compute.\n```python\n2 * 21\n```\n"),
        ("ActionExecutor", "42"),
        ("Agent", "So it is 42."),
    ]
    assert llm.calls[1][-1] == {"role": "environment", "content": "42", "name": "code interpreter"}
