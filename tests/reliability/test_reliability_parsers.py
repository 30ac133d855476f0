"""Whatever a model writes, parsers return a result or a clear error: no crash, no hang.

Tool-call parsers must never raise on a reply (a bad call is ``PARSING_ERROR``); format
parsers may raise only ``ValueError``; actions and the executor always return an
``ActionReturn``. Each test is bounded by pytest-timeout, which is what catches a hang.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from lagent_nb.actions import ActionExecutor, BaseAction, TupleParser, tool_api
from lagent_nb.actions.parser import strip_code_fence
from lagent_nb.prompts import (
    CustomFormatParser,
    InterpreterParser,
    JSONParser,
    MixedToolParser,
    PluginParser,
    StrParser,
    ToolParser,
    ToolStatusCode,
)
from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage, FunctionCall

pytestmark = pytest.mark.timeout(120)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MARKERS = [
    "<|action_start|>",
    "<|plugin|>",
    "<|interpreter|>",
    "<|action_end|>",
    "\n",
    "{",
    "}",
    '"name"',
    ":",
    "```",
    "<tool>\n",
    "</tool>\n",
    "//",
]
# Free text spliced with the markers parsers look for, so the interesting paths get hit.
replies = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(MARKERS)), max_size=30).map(
    "".join
)
ADVERSARIAL = [
    " " * 200_000,
    "[" * 100_000,
    "(" * 100_000,
    "{" * 100_000,
    "<a>" * 50_000,
    "<a " * 50_000,
    "<|action_start|><|plugin|>\n" * 20_000,
    "\n```" * 50_000,
    "//" * 100_000,
]


class Call(BaseModel):
    name: str
    parameters: dict = {}


class Done(BaseModel):
    conclusion: str


TOOL_PARSERS = [
    ToolParser("t"),
    InterpreterParser(),
    PluginParser(),
    MixedToolParser(parsers=[PluginParser(), InterpreterParser()]),
]


def check_tool_reply(parser, text):
    parsed = parser.parse_response(text)
    assert set(parsed) == {"tool_type", "thought", "action", "status"}
    assert parsed["status"] in tuple(ToolStatusCode)
    if parsed["status"] == ToolStatusCode.NO_TOOL:
        assert parsed["thought"] == text and parsed["action"] is None
    if parsed["status"] == ToolStatusCode.VALID_TOOL:
        # a valid call renders back to text that parses to the same call
        again = parser.parse_response(parser.format_response(parsed))
        assert (again["tool_type"], again["action"]) == (parsed["tool_type"], parsed["action"])


@SETTINGS
@given(text=replies)
def test_tool_parsers_never_raise(text):
    for parser in TOOL_PARSERS:
        check_tool_reply(parser, text)


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: f"{t[:6]!r}x{len(t)}")
def test_adversarial_replies(text):
    for parser in TOOL_PARSERS:
        check_tool_reply(parser, text)
    check_format_parsers(text)
    check_action_inputs(text)


FORMAT_PARSERS = [
    JSONParser("{a}{b}", a=Call, b=Done),
    CustomFormatParser("{a}{b}", a=Call, b=Done),
    StrParser("x"),
]


@SETTINGS
@given(text=st.one_of(replies, st.from_regex(r'\{"(name|conclusion)": ".*"\}', fullmatch=True)))
def test_format_parsers_raise_only_value_errors(text):
    check_format_parsers(text)


def check_format_parsers(text):
    for parser in FORMAT_PARSERS:
        try:
            parser.parse_response(text)
        except ValueError as exc:
            assert str(exc)  # a clear message, not an empty one


@SETTINGS
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_json_parser_on_any_json_value(value):
    parser = JSONParser("{a}{b}", a=Call, b=Done)
    try:
        result = parser.parse_response(json.dumps(value))
    except ValueError:
        return
    assert set(result) in ({"name", "parameters"}, {"conclusion"})


class Tool(BaseAction):
    @tool_api
    def run(self, a: int, b: str = "x"):
        """Tool.

        Args:
            a (int): a
            b (str): b
        """
        return {"a": a, "b": b}


JSON_TOOL = Tool()
TUPLE_TOOL = Tool(parser=TupleParser)


def check_action_inputs(inputs):
    for tool in (JSON_TOOL, TUPLE_TOOL):
        ret = tool(inputs)
        assert isinstance(ret, ActionReturn)
        assert ret.state in (
            ActionStatusCode.SUCCESS,
            ActionStatusCode.ARGS_ERROR,
            ActionStatusCode.API_ERROR,
        )
        if ret.state != ActionStatusCode.SUCCESS:
            assert ret.errmsg


@SETTINGS
@given(
    inputs=st.one_of(
        replies,
        st.none(),
        st.integers(),
        st.lists(st.integers(), max_size=3),
        st.tuples(st.integers(), st.text()),
        st.dictionaries(st.sampled_from(["a", "b", "c", "session_id"]), st.integers() | st.text()),
        st.dictionaries(st.text(), st.text(), max_size=3).map(json.dumps),
    )
)
def test_action_input_parsers_give_a_result_or_an_args_error(inputs):
    check_action_inputs(inputs)


EXECUTOR = ActionExecutor([Tool()])


@SETTINGS
@given(
    content=st.one_of(
        replies,
        st.none(),
        st.dictionaries(st.sampled_from(["name", "parameters", "x"]), st.text() | st.none()),
        st.builds(
            FunctionCall,
            st.one_of(st.text(), st.sampled_from(["Tool", "Tool.run", "Tool__run"])),
            st.one_of(st.none(), replies, st.dictionaries(st.text(), st.integers())),
        ),
    ),
    session_id=st.one_of(st.integers(), st.text()),
)
def test_executor_always_answers_with_an_action_return(content, session_id):
    reply = EXECUTOR(AgentMessage(sender="llm", content=content), session_id=session_id)
    assert reply.sender == "ActionExecutor"
    assert isinstance(reply.content, ActionReturn)


@pytest.mark.parametrize(
    "text, body",
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('  ```\n{"a": 1}\n```  \n', '{"a": 1}'),
        ('{"a": 1}\n```', '{"a": 1}'),  # a stray closing fence, as lagent accepted
        ('{"a": 1}', '{"a": 1}'),
        ("```python\nx\n```", "```python\nx"),  # other languages are not JSON: left to fail
    ],
)
def test_strip_code_fence(text, body):
    assert strip_code_fence(text) == body
