"""Output parsers and prompt templates; expectations were checked against lagent 0.5.0rc3."""

import json
import sys
from typing import List, Optional

import pytest
from pydantic import BaseModel, Field

from lagent_nb.prompts import (
    INTERPRETER_CN,
    META_CN,
    PLUGIN_CN,
    PLUGIN_EN,
    CustomFormatParser,
    InterpreterParser,
    JSONParser,
    MixedToolParser,
    PluginParser,
    PromptTemplate,
    StrParser,
    ToolParser,
    ToolStatusCode,
)

PLUGIN_CALL = (
    'think<|action_start|><|plugin|>\n{"name": "a", "parameters": {"x": 1}}<|action_end|>\n'
)


def test_tool_status_codes():
    assert (ToolStatusCode.NO_TOOL, ToolStatusCode.VALID_TOOL, ToolStatusCode.PARSING_ERROR) == (
        0,
        1,
        -1,
    )


def test_tool_parser_markers_are_template_fields():
    parser = ToolParser("t", "use {begin} and {end}")
    assert parser.format_instruction() == "use <tool>\n and </tool>\n"


def test_tool_parser_without_marker_is_no_tool():
    for text in ("plain answer", ""):
        assert ToolParser("t").parse_response(text) == {
            "tool_type": None,
            "thought": text,
            "action": None,
            "status": ToolStatusCode.NO_TOOL,
        }


def test_tool_parser_round_trip():
    parser = ToolParser("t")
    parsed = parser.parse_response("<tool>\nabc</tool>\nrest")
    assert parsed == {"tool_type": "t", "thought": "", "action": "abc", "status": 1}
    assert parser.format_response(parsed) == "<tool>\nabc</tool>\n"


@pytest.mark.parametrize(
    "text, thought, action",
    [
        (
            "calc<|action_start|><|interpreter|>\nprint(1)\n<|action_end|>\ntail",
            "calc",
            "print(1)\n",
        ),
        # no end marker (a stop word cut the reply): everything after begin
        ("calc<|action_start|><|interpreter|>\nprint(1)", "calc", "print(1)"),
        # two begins: the action stops at the second one
        ("a<|action_start|><|interpreter|>\nx<|action_start|><|interpreter|>\ny", "a", "x"),
    ],
)
def test_interpreter_parser(text, thought, action):
    parsed = InterpreterParser().parse_response(text)
    assert parsed == {
        "tool_type": "interpreter",
        "thought": thought,
        "action": action,
        "status": ToolStatusCode.VALID_TOOL,
    }


def test_plugin_parser_decodes_json_object_and_renders_it_back():
    parser = PluginParser()
    parsed = parser.parse_response(PLUGIN_CALL)
    assert parsed == {
        "tool_type": "plugin",
        "thought": "think",
        "action": {"name": "a", "parameters": {"x": 1}},
        "status": ToolStatusCode.VALID_TOOL,
    }
    assert parser.format_response(parsed) == PLUGIN_CALL


@pytest.mark.parametrize("action", ['{"name": "a"', "[1,2]", "not json"])
def test_plugin_parser_keeps_raw_action_on_parsing_error(action):
    text = f"think<|action_start|><|plugin|>\n{action}<|action_end|>\n"
    parsed = PluginParser().parse_response(text)
    assert parsed["status"] == ToolStatusCode.PARSING_ERROR
    assert parsed["action"] == action
    assert parsed["tool_type"] == "plugin"


def test_format_response_keeps_non_ascii_and_rejects_other_tool_types():
    parser = PluginParser()
    parsed = {"tool_type": "plugin", "thought": "", "action": {"q": "天气 ☀"}, "status": 1}
    assert '"天气 ☀"' in parser.format_response(parsed)
    with pytest.raises(ValueError, match="tool_type 'x'"):
        parser.format_response({**parsed, "tool_type": "x"})
    assert parser.format_response({"tool_type": None, "thought": "t", "action": None}) == "t"


def test_validate_may_be_an_import_path():
    parser = ToolParser("t", validate="json.loads")
    assert parser.parse_response("<tool>\n[1]</tool>\n")["action"] == [1]
    assert parser.parse_response("<tool>\n[1</tool>\n")["status"] == ToolStatusCode.PARSING_ERROR


def test_mixed_parser_instructions_and_first_match():
    mixed = MixedToolParser(
        template="meta",
        parsers=[
            dict(type=PluginParser, template="P {prompt}", prompt="x"),
            dict(type=InterpreterParser, template="I"),
        ],
    )
    assert mixed.format_instruction() == [
        {"role": "system", "content": "meta"},
        {"role": "system", "content": "P x", "name": "plugin"},
        {"role": "system", "content": "I", "name": "interpreter"},
    ]
    parsed = mixed.parse_response("calc<|action_start|><|interpreter|>\nprint(1)\n<|action_end|>\n")
    assert parsed["tool_type"] == "interpreter" and parsed["action"] == "print(1)\n"
    assert mixed.parse_response(PLUGIN_CALL)["tool_type"] == "plugin"
    assert mixed.parse_response("hello")["status"] == ToolStatusCode.NO_TOOL
    assert mixed.format_response(mixed.parse_response(PLUGIN_CALL)) == PLUGIN_CALL
    with pytest.raises(ValueError, match="no parser for tool_type"):
        mixed.format_response({"tool_type": "web", "thought": "", "action": "x"})


def test_mixed_parser_names_its_own_instruction_and_skips_empty_ones():
    mixed = MixedToolParser(
        tool_type="mixed",
        template="meta",
        parsers=[InterpreterParser(template="code!"), PluginParser()],
    )
    assert mixed.format_instruction() == [
        {"role": "system", "content": "meta", "name": "mixed"},
        {"role": "system", "content": "code!", "name": "interpreter"},
    ]


def test_str_parser_requires_every_template_field():
    assert StrParser("a {x} b", x=3).format_instruction() == "a 3 b"
    assert StrParser("a {x} b", x=3).parse_response("zz") == "zz"
    with pytest.raises(ValueError, match=r"\['x'\].*keyword"):
        StrParser("a {x} b")
    # AgentForInternLM's default plugin template needs its tool list
    with pytest.raises(ValueError, match="prompt"):
        PluginParser(template=PLUGIN_CN)
    with pytest.raises(NotImplementedError):
        StrParser("x").format_response({})


def test_internlm_prompts_keep_lagent_placeholders():
    assert "{prompt}" in PLUGIN_CN and "{prompt}" in PLUGIN_EN
    filled = PluginParser(template=PLUGIN_CN, prompt='[{"name": "calc"}]').format_instruction()
    assert '[{"name": "calc"}]' in filled
    assert InterpreterParser(template=INTERPRETER_CN).format_instruction() == INTERPRETER_CN
    assert "{" not in META_CN and "{" not in INTERPRETER_CN


class Act(BaseModel):
    name: str = Field(description="tool name")
    parameters: dict = Field(default={}, description="args")


class Finish(BaseModel):
    conclusion: str


class Inner(BaseModel):
    x: int = Field(description="an x")


class Outer(BaseModel):
    thought: str = Field(description="think")
    action: Inner
    tags: List[str] = []
    opt: Optional[int] = None


JSON_TEMPLATE = "call: {function_format}\nfinish: {finish_format}"


def test_json_parser_instruction_is_commented_pseudo_json():
    parser = JSONParser(JSON_TEMPLATE, function_format=Act, finish_format=Finish)
    assert parser.format_instruction() == (
        'call: {\n    // tool name\n    "name": "str",  // required\n    // args\n'
        '    "parameters": "dict",  // default: {}\n}\n'
        'finish: {\n    "conclusion": "str",  // required\n}'
    )
    assert JSONParser("{o}", o=Outer).format_instruction() == (
        '{\n    // think\n    "thought": "str",  // required\n    "action": {\n'
        '        // an x\n        "x": "int",  // required\n    },\n'
        '    "tags": "list[str]",  // default: []\n'
        '    "opt": "Union[int, NoneType]",  // default: None\n}'
    )


def test_json_parser_picks_first_matching_model():
    parser = JSONParser(JSON_TEMPLATE, function_format=Act, finish_format=Finish)
    assert parser.parse_response('{"name": "calc", "parameters": {"a": 1}}') == {
        "name": "calc",
        "parameters": {"a": 1},
    }
    assert parser.parse_response('// comment\n{"conclusion": "done"}') == {"conclusion": "done"}
    # unknown keys dropped, defaults filled
    assert parser.parse_response('{"name": "x", "junk": 1}') == {"name": "x", "parameters": {}}
    nested = JSONParser("{o}", o=Outer).parse_response('{"thought": "t", "action": {"x": 2}}')
    assert nested == {"thought": "t", "action": {"x": 2}, "tags": [], "opt": None}


def test_json_parser_errors_are_value_errors():
    parser = JSONParser(JSON_TEMPLATE, function_format=Act, finish_format=Finish)
    with pytest.raises(ValueError, match=r"^Input string is not a valid JSON\.$"):
        parser.parse_response("not json")
    with pytest.raises(ValueError, match="Field 'name' is required"):
        parser.parse_response('{"name": "str"}')  # a copied placeholder for a required field
    # lagent raised UnboundLocalError when no model matched
    with pytest.raises(ValueError, match=r"none of the expected formats \['Act', 'Finish'\]"):
        parser.parse_response('{"thought": "t"}')
    with pytest.raises(ValueError, match="expected a JSON object"):
        parser.parse_response("[1, 2]")


class Person(BaseModel):
    name: str = Field(description="full name")
    age: int


class Book(BaseModel):
    title: str
    year: int = 2000


def test_custom_format_parser_renders_and_parses_tags():
    parser = CustomFormatParser("{person}|{book}", person=Person, book=Book)
    assert parser.format_instruction() == (
        '<!-- full name -->\n<name type="str"></name>\n<age type="int"></age>\n'
        '|<title type="str"></title>\n<year type="int">2000</year>\n'
    )
    person = parser.parse_response('<name type="str">Ann</name>\n<age>30</age>')
    assert person == Person(name="Ann", age=30)
    assert parser.parse_response("<title>Dune</title>") == Book(title="Dune")
    with pytest.raises(ValueError, match="none of the expected formats"):
        parser.parse_response("<nothing>1</nothing>")


def test_prompt_template_json_and_info_injection():
    assert PromptTemplate("hi {x}!").format(x="you") == "hi you!"
    with pytest.raises(ValueError, match=r"\['y'\] are not used"):
        PromptTemplate("hi {x}!").format(x="you", y=2)
    with pytest.raises(ValueError, match=r"\['x'\] were not given"):
        PromptTemplate("hi {x}!").format()
    template = PromptTemplate("tools {action_info}")
    template.actions_info = json.dumps([{"name": "calc"}])
    assert template.format() == 'tools [{"name": "calc"}]'
    assert template.format(action_info="explicit") == "tools explicit"


def test_prompt_template_jinja_understands_filters():
    assert PromptTemplate("hi {{ x }}!", "jinja").format(x="you") == "hi you!"
    assert PromptTemplate("hi {{ x|upper }}!", "jinja").format(x="you") == "hi YOU!"
    with pytest.raises(ValueError, match="not used"):
        PromptTemplate("hi {{ x }}", "jinja").format(z=1)
    with pytest.raises(ValueError, match="format_type"):
        PromptTemplate("x", "mustache")


def test_jinja_without_jinja2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setitem(sys.modules, "jinja2.meta", None)
    with pytest.raises(ImportError, match="pip install jinja2"):
        PromptTemplate("hi {{ x }}", "jinja").format(x=1)
    assert PromptTemplate("hi {x}").format(x=1) == "hi 1"  # json templates do not need it


def test_readme_code_block_tool_parser():
    parser = ToolParser(tool_type="code interpreter", begin="```python\n", end="\n```\n")
    parsed = parser.parse_response("Let me compute.\n```python\nprint(1 + 1)\n```\nDone.")
    assert parsed == {
        "tool_type": "code interpreter",
        "thought": "Let me compute.\n",
        "action": "print(1 + 1)",
        "status": ToolStatusCode.VALID_TOOL,
    }
    assert parser.format_response(parsed) == "Let me compute.\n```python\nprint(1 + 1)\n```\n"
