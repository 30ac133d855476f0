"""BaseAction error mapping, ActionExecutor routing, hooks and session routing (sync and async)."""

import asyncio
import json
import subprocess
import sys
from typing import Optional

import pytest

from lagent_nb.actions import (
    ActionExecutor,
    AsyncActionExecutor,
    AsyncActionMixin,
    BaseAction,
    InvalidAction,
    TupleParser,
    tool_api,
)
from lagent_nb.hooks import ActionPreprocessor, Hook, InternLMActionProcessor
from lagent_nb.prompts import InterpreterParser, PluginParser, ToolStatusCode
from lagent_nb.schema import (
    ActionReturn,
    ActionStatusCode,
    ActionValidCode,
    AgentMessage,
    FunctionCall,
)

UNICODE = "中文 😀 Ωμ ascii عربى 𝔘"


class Calc(BaseAction):
    """calc"""

    @tool_api
    def add(self, a: int, b: int = 1):
        """add

        Args:
            a (int): x
            b (int): y
        """
        return a + b

    @tool_api
    def boom(self):
        """explode"""
        raise RuntimeError("kaboom 中文")

    @tool_api
    def silent_boom(self):
        """explode without a message"""
        raise KeyboardInterruptLike()


class KeyboardInterruptLike(Exception):
    pass


class Echo(BaseAction):
    def run(self, text: str):
        return {"t": text, "mix": UNICODE}


class Tup(BaseAction):
    def run(self, a: int, b: int = 2):
        return a * b


class Kernel(BaseAction):
    """A stateful tool: one store per session."""

    def __init__(self):
        super().__init__()
        self.stores = {}

    def run(self, command: str, session_id: Optional[str] = None):
        self.stores.setdefault(session_id, []).append(command)
        return f"{session_id}:{len(self.stores[session_id])}"


class AsyncKernel(AsyncActionMixin, Kernel):
    @tool_api
    async def run(self, command: str, session_id: Optional[str] = None):
        await asyncio.sleep(0)
        self.stores.setdefault(session_id, []).append(command)
        return f"{session_id}:{len(self.stores[session_id])}"


@pytest.fixture
def executor():
    return ActionExecutor([Calc(), Echo(), Tup(parser=TupleParser)])


def test_successful_calls(executor):
    ret = executor.forward("Calc.add", {"a": 1})
    assert (ret.args, ret.type, ret.result, ret.state, ret.valid) == (
        {"a": 1},
        "Calc",
        [{"type": "text", "content": "2"}],
        ActionStatusCode.SUCCESS,
        ActionValidCode.OPEN,
    )
    fenced = executor.forward("Echo", '```json\n{"text": "x"}\n```')
    assert fenced.args == {"text": "x"}
    assert executor.forward("Tup", "(3, 4)").result == [{"type": "text", "content": "12"}]
    assert executor.forward("Tup", "5").result == [{"type": "text", "content": "10"}]


def test_unicode_survives_a_tool_result(executor):
    content = executor.forward("Echo", {"text": UNICODE}).result[0]["content"]
    assert json.loads(content) == {"t": UNICODE, "mix": UNICODE}
    assert UNICODE in content  # not escaped to \\uXXXX either


@pytest.mark.parametrize(
    "name, params, state, errmsg",
    [
        ("Calc.add", '{"a": 2, "c": 1}', ActionStatusCode.ARGS_ERROR, "unknown arguments: {'c'}"),
        ("Calc.add", {"b": 1}, ActionStatusCode.ARGS_ERROR, "missing required arguments: {'a'}"),
        ("Echo", "raw code", ActionStatusCode.ARGS_ERROR, "invalid json format: raw code"),
        ("Calc.sub", {}, ActionStatusCode.API_ERROR, "invalid API: sub"),
        ("Calc", {"a": 1}, ActionStatusCode.API_ERROR, "invalid API: run"),
        # lagent let a model reach any attribute (KeyError); only described APIs are callable
        ("Calc.__init__", {}, ActionStatusCode.API_ERROR, "invalid API: __init__"),
        ("Calc.boom", {}, ActionStatusCode.API_ERROR, "kaboom 中文"),
        ("Calc.silent_boom", {}, ActionStatusCode.API_ERROR, "KeyboardInterruptLike"),
        (
            "Calc.add",
            {"a": "x"},
            ActionStatusCode.API_ERROR,
            'can only concatenate str (not "int") to str',
        ),
        (
            "Tup",
            "(1, 2, 3)",
            ActionStatusCode.ARGS_ERROR,
            "API takes 2 positional arguments but 3 were given",
        ),
        (
            "Tup",
            "()",
            ActionStatusCode.ARGS_ERROR,
            "API takes 1 required positional arguments but 0 were given",
        ),
        ("Tup", "x y", ActionStatusCode.ARGS_ERROR, "invalid tuple format: x y"),
        ("Echo", "[1, 2]", ActionStatusCode.ARGS_ERROR, "arguments must be a JSON object"),
    ],
)
def test_error_mapping(executor, name, params, state, errmsg):
    ret = executor.forward(name, params)
    assert ret.state == state
    assert ret.errmsg.startswith(errmsg)
    assert ret.valid == ActionValidCode.OPEN
    assert ret.type == name.split(".")[0]


def test_parse_error_keeps_the_raw_inputs(executor):
    ret = executor.forward("Calc.add", {"b": 1})
    assert ret.args == {"inputs": {"b": 1}, "name": "add"}


def test_fallback_actions(executor):
    invalid = executor.forward("nope", {"x": 1})
    assert (invalid.type, invalid.state, invalid.valid) == (
        "InvalidAction",
        ActionStatusCode.API_ERROR,
        ActionValidCode.INVALID,
    )
    assert invalid.errmsg == "The action is invalid, please check the action name."
    assert executor.forward("nope", "custom message").errmsg == "custom message"
    no = executor.forward("NoAction", {})
    assert (no.errmsg, no.valid) == ("Please follow the format", ActionValidCode.INVALID)
    done = executor.forward("FinishAction", "done")
    assert (done.state, done.valid, done.result) == (
        ActionStatusCode.SUCCESS,
        ActionValidCode.FINISH,
        [{"type": "text", "content": "done"}],
    )


def test_finish_in_action_registers_it():
    executor = ActionExecutor(Echo(), finish_in_action=True)
    assert executor.keys() == ["Echo", "FinishAction"]
    # as a registered tool its result is marked OPEN, as in lagent
    assert executor.forward("FinishAction", "x").valid == ActionValidCode.OPEN


def test_table_operations(executor):
    assert "Echo" in executor and "Nope" not in executor
    assert executor.keys() == ["Calc", "Echo", "Tup"]
    assert isinstance(executor["Calc"], Calc)
    executor["ignored"] = dict(type=Kernel)
    assert "Kernel" in executor
    del executor["Echo"]
    assert executor.keys() == ["Calc", "Tup", "Kernel"]
    names = [api["name"] for api in executor.description()]
    assert names == ["Calc.add", "Calc.boom", "Calc.silent_boom", "Tup", "Kernel"]
    # description() copies: renaming for the flat list does not touch the toolkit
    assert executor["Calc"].description["api_list"][0]["name"] == "add"


def test_call_wraps_result_in_message(executor):
    reply = executor(AgentMessage(sender="a", content=FunctionCall("Calc.add", {"a": 3})))
    assert reply.sender == "ActionExecutor"
    assert reply.content.result == [{"type": "text", "content": "4"}]
    reply = executor(AgentMessage(sender="a", content={"name": "Calc.add", "parameters": {"a": 1}}))
    assert reply.content.result[0]["content"] == "2"


@pytest.mark.parametrize(
    "content",
    ["junk", {"name": "Calc.add"}, {"parameters": {}}, None, {"name": 3, "parameters": {}}],
)
def test_malformed_call_is_an_invalid_action_not_an_exception(executor, content):
    reply = executor(AgentMessage(sender="a", content=content))
    ret = reply.content
    assert isinstance(ret, ActionReturn)
    assert (ret.state, ret.valid) == (ActionStatusCode.API_ERROR, ActionValidCode.INVALID)
    assert "malformed tool call" in ret.errmsg


def test_none_parameters_mean_no_arguments(executor):
    assert executor.forward("Calc.boom", None).errmsg == "kaboom 中文"
    assert executor.forward("Calc.add", None).errmsg == "missing required arguments: {'a'}"


class Recorder(Hook):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def before_action(self, executor, message, session_id):
        self.log.append(("before", self.name, session_id))

    def after_action(self, executor, message, session_id):
        self.log.append(("after", self.name, session_id))


def test_hooks_run_in_order_and_can_be_removed(executor):
    log = []
    first = executor.register_hook(Recorder("first", log))
    executor.register_hook(Recorder("second", log))
    executor(AgentMessage(sender="a", content=FunctionCall("Calc.add", {"a": 1})), session_id=7)
    assert log == [
        ("before", "first", 7),
        ("before", "second", 7),
        ("after", "first", 7),
        ("after", "second", 7),
    ]
    first.remove()
    log.clear()
    executor(AgentMessage(sender="a", content=FunctionCall("Calc.add", {"a": 1})))
    assert log == [("before", "second", 0), ("after", "second", 0)]


def test_hooks_replace_messages_with_truthy_returns():
    executor = ActionExecutor(Calc(), hooks=[dict(type=ActionPreprocessor)])
    parsed = PluginParser().parse_response(
        '<|action_start|><|plugin|>\n{"name": "Calc.add", "parameters": {"a": 4}}<|action_end|>\n'
    )
    assert parsed["status"] == ToolStatusCode.VALID_TOOL
    reply = executor(AgentMessage(sender="llm", content="...", formatted=parsed["action"]))
    assert reply.content == "5"  # ActionPreprocessor turned the ActionReturn into text
    failed = executor(
        AgentMessage(sender="llm", content="", formatted={"name": "Calc.add", "parameters": {}})
    )
    assert failed.content == "missing required arguments: {'a'}"


def test_session_id_reaches_tools_that_declare_it():
    kernel = Kernel()
    executor = ActionExecutor([kernel, Echo()])
    call = AgentMessage(sender="a", content=FunctionCall("Kernel", {"command": "x=1"}))
    assert executor(call, session_id="s1").content.result[0]["content"] == "s1:1"
    assert executor(call, session_id="s2").content.result[0]["content"] == "s2:1"
    assert executor(call, session_id="s1").content.result[0]["content"] == "s1:2"
    # explicit parameters win over the executor's session (lagent's hook injects them)
    explicit = FunctionCall("Kernel", {"command": "y", "session_id": "mine"})
    assert (
        executor(AgentMessage(sender="a", content=explicit), session_id="s1").content.result[0][
            "content"
        ]
        == "mine:1"
    )
    # a tool without a session_id parameter is not given one
    assert (
        executor.forward("Echo", {"text": "a"}, session_id="s1").state == ActionStatusCode.SUCCESS
    )


def test_internlm_processor_routes_code_with_session():
    executor = ActionExecutor([Kernel()], hooks=[InternLMActionProcessor()])
    parsed = InterpreterParser().parse_response(
        "run it<|action_start|><|interpreter|>\nprint(1)<|action_end|>\n"
    )
    reply = executor(AgentMessage(sender="llm", content="", formatted=parsed), session_id="abc")
    assert reply.content == "abc:1"


def test_sync_call_of_async_api_is_a_clear_error():
    class Half(BaseAction):
        @tool_api
        async def run(self, x: int):
            return x

    ret = Half()({"x": 1})
    assert ret.state == ActionStatusCode.API_ERROR
    assert "async" in ret.errmsg and "AsyncActionExecutor" in ret.errmsg


class AsyncRecorder(Hook):
    def __init__(self, log):
        self.log = log

    async def before_action(self, executor, message, session_id):
        await asyncio.sleep(0)
        self.log.append("async-before")

    def after_action(self, executor, message, session_id):
        self.log.append("sync-after")
        message.content = message.content.format_result() or message.content.errmsg
        return message


async def test_async_executor_mixes_sync_and_async_tools_and_hooks():
    log = []
    kernel = AsyncKernel()
    executor = AsyncActionExecutor([kernel, Calc()], hooks=[AsyncRecorder(log)])
    call = AgentMessage(sender="a", content=FunctionCall("AsyncKernel", {"command": "x"}))
    replies = await asyncio.gather(
        executor(call, session_id="a"),
        executor(call, session_id="b"),
        executor(call, session_id="a"),
    )
    assert sorted(r.content for r in replies) == ["a:1", "a:2", "b:1"]
    assert log.count("async-before") == 3 and log.count("sync-after") == 3
    sync_tool = await executor.forward("Calc.add", {"a": 2})
    assert sync_tool.result[0]["content"] == "3" and sync_tool.valid == ActionValidCode.OPEN
    invalid = await executor.forward("Missing", {})
    assert invalid.valid == ActionValidCode.INVALID
    assert replies[0].sender == "AsyncActionExecutor"
    malformed = await executor(AgentMessage(sender="a", content="nonsense"))
    assert malformed.content.startswith("malformed tool call")  # via the after hook's text


async def test_async_action_errors_map_like_sync_ones():
    kernel = AsyncKernel()
    assert (await kernel({"command": 1, "bad": 2})).errmsg == "unknown arguments: {'bad'}"
    assert (await kernel({}, "nope")).errmsg == "invalid API: nope"

    class Failing(AsyncActionMixin, BaseAction):
        @tool_api
        async def run(self):
            raise ValueError("async failure ✗")

    ret = await Failing()({})
    assert (ret.state, ret.errmsg) == (ActionStatusCode.API_ERROR, "async failure ✗")


def test_custom_invalid_action_is_used():
    executor = ActionExecutor([], invalid_action=InvalidAction(err_msg="no such tool"))
    assert executor.forward("x", {}).errmsg == "no such tool"
    assert executor(AgentMessage(sender="a", content=42)).content.errmsg.startswith("malformed")


def test_sync_executor_reports_async_tools_clearly():
    executor = ActionExecutor([AsyncKernel()])
    ret = executor.forward("AsyncKernel", {"command": "x"}, session_id="s")
    assert ret.state == ActionStatusCode.API_ERROR
    assert "AsyncActionExecutor" in ret.errmsg


def test_importing_actions_stays_light():
    code = (
        "import sys, lagent_nb.actions as a; "
        "assert 'jupyter_client' not in sys.modules, 'jupyter_client imported'; "
        "assert 'IPythonInterpreter' in dir(a)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_plugin_parsing_error_ends_as_a_malformed_call_result():
    """A broken plugin call is not sent to the first tool as code (lagent answers
    ``unknown arguments: {'command'}``): the executor reports the malformed call instead."""
    text = 'ok<|action_start|><|plugin|>\n{"name": "Calc.add", <|action_end|>\n'
    parsed = PluginParser().parse_response(text)
    assert parsed["status"] == ToolStatusCode.PARSING_ERROR
    executor = ActionExecutor([Echo()], hooks=[InternLMActionProcessor()])
    reply = executor(AgentMessage(sender="llm", content=text, formatted=parsed), session_id=1)
    assert reply.sender == "ActionExecutor"
    assert (
        reply.content.startswith("malformed tool call") and '{"name": "Calc.add",' in reply.content
    )
