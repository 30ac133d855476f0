"""Output parsers: instructions, parse_response and format_response round-trips."""

from __future__ import annotations

from typing import Dict, List, Optional

from _common import main, mod, outcome, run_cases


def run(pkg: str) -> dict:
    prompts = mod(pkg, "prompts")
    parsers = mod(pkg, "prompts.parsers")
    from pydantic import BaseModel, Field

    def round_trip(parser, text):
        parsed = parser.parse_response(text)
        return {"parsed": parsed, "formatted": outcome(lambda: parser.format_response(parsed))}

    def str_parser():
        p = prompts.StrParser("Answer in {lang} with {n} words", lang="French", n=3)
        return {
            "instruction": p.format_instruction(),
            "parse": p.parse_response("bonjour"),
            "format": outcome(lambda: p.format_response({"x": 1}), message=False),
            "missing_field": outcome(lambda: prompts.StrParser("need {x}"), message=False),
            "no_template": prompts.StrParser().format_instruction(),
        }

    def tool_parser():
        p = prompts.ToolParser(
            "code interpreter", template="use {begin}", begin="```python\n", end="\n```\n"
        )
        validated = prompts.ToolParser("calc", begin="<c>", end="</c>", validate=int)
        return {
            "instruction": p.format_instruction(),
            "no_tool": round_trip(p, "just thinking"),
            "tool": round_trip(p, "think\n```python\nprint(1)\n```\ntrailing"),
            "unterminated": round_trip(p, "think\n```python\nprint(2)"),
            "two_blocks": p.parse_response("a```python\nx\n```\nb```python\ny\n```\n"),
            "validated": round_trip(validated, "t<c>42</c>"),
            "validate_fails": round_trip(validated, "t<c>forty</c>"),
            "dict_action": p.format_response(
                {"tool_type": "code interpreter", "thought": "T", "action": {"a": "é"}, "status": 1}
            ),
            "wrong_type": outcome(
                lambda: p.format_response(
                    {"tool_type": "other", "thought": "", "action": "x", "status": 1}
                ),
                message=False,
            ),
        }

    def interpreter_and_plugin():
        interp = prompts.InterpreterParser(template="python")
        plugin = prompts.PluginParser(template="tools: {tools}", tools="[]")
        code = "run it<|action_start|><|interpreter|>\nprint('hi')<|action_end|>\n"
        call = (
            'call<|action_start|><|plugin|>\n{"name": "search", "parameters": {"q": "x"}}'
            "<|action_end|>\n"
        )
        return {
            "interp_instruction": interp.format_instruction(),
            "interp": round_trip(interp, code),
            "plugin_instruction": plugin.format_instruction(),
            "plugin": round_trip(plugin, call),
            "plugin_not_object": round_trip(
                plugin, "c<|action_start|><|plugin|>\n[1, 2]<|action_end|>\n"
            ),
            "plugin_bad_json": round_trip(
                plugin, "c<|action_start|><|plugin|>\n{oops}<|action_end|>\n"
            ),
            "status_codes": {m.name: m.value for m in parsers.ToolStatusCode},
        }

    def mixed():
        p = prompts.MixedToolParser(
            tool_type="assistant",
            template="Meta {x}",
            x="X",
            parsers=[
                prompts.PluginParser(template="P"),
                dict(type=prompts.InterpreterParser, template="I"),
            ],
        )
        return {
            "instruction": p.format_instruction(),
            "plugin": round_trip(
                p, 'a<|action_start|><|plugin|>\n{"name": "n", "parameters": {}}<|action_end|>\n'
            ),
            "interp": round_trip(p, "b<|action_start|><|interpreter|>\n1+1<|action_end|>\n"),
            "none": round_trip(p, "nothing here"),
            "empty_template": prompts.MixedToolParser(
                parsers=[prompts.InterpreterParser()]
            ).format_instruction(),
        }

    class Call(BaseModel):
        name: str = Field(description="tool name")
        parameters: Dict = Field(description="arguments")

    class Act(BaseModel):
        thought: str = Field(description="what you think")
        action: Call = Field(description="what to run")

    class Finish(BaseModel):
        thought: str = Field(description="what you think")
        conclusion: str = Field(description="the answer")
        confidence: Optional[float] = Field(default=0.5, description="0..1")
        tags: List[str] = Field(default_factory=list)
        note: str = Field(default="none", description="anything else")

    def json_parser():
        p = prompts.JSONParser("Reply with one of:\n{act}\nor\n{finish}", act=Act, finish=Finish)
        return {
            "instruction": p.format_instruction(),
            "act": p.parse_response(
                '{\n// a comment\n"thought": "t", "action": {"name": "s", "parameters": {"q": 1}}}'
            ),
            "finish": p.parse_response('{"thought": "t", "conclusion": "42"}'),
            "placeholder_default": outcome(
                lambda: p.parse_response('{"thought": "t", "conclusion": "c", "note": "str"}')
            ),
            "placeholder_required": outcome(
                lambda: p.parse_response('{"thought": "t", "conclusion": "str"}')
            ),
            "not_json": outcome(lambda: p.parse_response("no json at all")),
            "no_model_matches": outcome(
                lambda: p.parse_response('{"unrelated": 1}'), message=False
            ),
        }

    def prompt_template():
        pt = prompts.PromptTemplate("Hello {name}, tools: {tools}")
        jinja = prompts.PromptTemplate("Hi {{ name }}!", format_type="jinja")
        return {
            "json": pt.format(name="Ann", tools=["a", "b"]),
            "jinja": jinja.format(name="Bob"),
        }

    return run_cases(
        {
            "str_parser": str_parser,
            "tool_parser": tool_parser,
            "interpreter_and_plugin": interpreter_and_plugin,
            "mixed": mixed,
            "json_parser": json_parser,
            "prompt_template": prompt_template,
        }
    )


if __name__ == "__main__":
    main(run)
