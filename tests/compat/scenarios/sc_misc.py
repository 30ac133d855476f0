"""create_object, get_plugin_prompt, CustomFormatParser and PromptTemplate variants."""

from __future__ import annotations

import dataclasses
import json

from _common import main, mod, outcome, run_cases


def run(pkg: str) -> dict:
    utils = mod(pkg, "utils")
    prompts = mod(pkg, "prompts")
    actions = mod(pkg, "actions")
    from pydantic import BaseModel, Field

    class Point:
        def __init__(self, x=0, y=0):
            self.x, self.y = x, y

    def scale(value, factor=1):
        return value * factor

    def create_object():
        made = utils.create_object(dict(type=Point, x=2))
        partial = utils.create_object(dict(type=scale, factor=3))
        by_name = utils.create_object(dict(type="collections.OrderedDict", a=1))
        return {
            "class": [made.x, made.y],
            "partial": partial(5),
            "by_name": [type(by_name).__name__, dict(by_name)],
            "passthrough": utils.create_object("as is"),
            "none": utils.create_object(None),
            "no_type": outcome(lambda: utils.create_object({"x": 1}), message=False),
        }

    class Lookup(actions.BaseAction):
        """Look things up."""

        @actions.tool_api
        def find(self, key: str):
            """Find a key.

            Args:
                key (str): what to find
            """
            return key

        @actions.tool_api
        def count(self, n: int = 1):
            """Count.

            Args:
                n (int): how many
            """
            return n

    class Echo(actions.BaseAction):
        @actions.tool_api
        def run(self, text: str):
            """Echo text.

            Args:
                text (str): the text
            """
            return text

    def plugin_prompt():
        stream = mod(pkg, "agents.stream")
        rendered = stream.get_plugin_prompt([Lookup(), Echo()], "{tool_name}: {description}")
        return {
            "parsed": json.loads(rendered),
            "plain": json.loads(stream.get_plugin_prompt(Echo())),
        }

    class Person(BaseModel):
        name: str = Field(description="full name")
        age: int = Field(description="age in years")

    class Film(BaseModel):
        title: str
        year: int

    def custom_format():
        parser = prompts.CustomFormatParser(
            "Reply as:\n{default_format}\nor:\n{unknown_format}",
            default_format=Person,
            unknown_format=Film,
        )
        return {
            "instruction": parser.format_instruction(),
            "person": outcome(
                lambda: parser.parse_response(
                    '<!-- a name -->\n<name type="str">Ann</name>\n<age>41</age>'
                ).model_dump()
            ),
            "film": outcome(
                lambda: parser.parse_response("<title>Heat</title><year>1995</year>").model_dump()
            ),
        }

    @dataclasses.dataclass
    class Vars:
        name: str
        n: int

    def templates():
        pt = prompts.PromptTemplate("Hi {name}, you have {n} messages")
        jinja = prompts.PromptTemplate(
            "{% for i in items %}[{{ i }}]{% endfor %}", format_type="jinja"
        )
        return {
            "kwargs": pt.format(name="A", n=2),
            "dataclass": outcome(lambda: pt.format(**dataclasses.asdict(Vars("B", 3)))),
            "jinja_loop": outcome(lambda: jinja.format(items=[1, 2]), message=False),
            "missing": outcome(lambda: pt.format(name="C"), message=False),
        }

    return run_cases(
        {
            "create_object": create_object,
            "plugin_prompt": plugin_prompt,
            "custom_format": custom_format,
            "templates": templates,
        }
    )


if __name__ == "__main__":
    main(run)
