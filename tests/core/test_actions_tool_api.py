"""``tool_api`` descriptions and tool classes; expectations were checked against lagent 0.5.0rc3."""

from typing import Annotated, Dict, List, Optional, Tuple, Union

import pytest

from lagent_nb.actions import AsyncActionMixin, BaseAction, tool_api
from lagent_nb.actions.tool_schema import detect_type


@pytest.mark.parametrize(
    "text, expected",
    [
        ("list[int]", "Array"),
        ("float", "FLOAT"),
        ("int", "NUMBER"),
        ("bool", "BOOLEAN"),
        ("str, optional", "STRING"),
        ("dict", "STRING"),
        ("(<class 'str'>,)", "STRING"),  # List[str] is read from its arguments: the quirk
    ],
)
def test_detect_type(text, expected):
    assert detect_type(text) == expected


def test_annotated_beats_docstring():
    @tool_api
    def add(a: Annotated[int, "augend"], b: Annotated[int, "addend"] = 1):
        """Add operation

        Args:
            a (str): a
            b (str): b
        """
        return a + b

    assert add.api_description == {
        "name": "add",
        "description": "Add operation",
        "parameters": [
            {"name": "a", "type": "NUMBER", "description": "augend"},
            {"name": "b", "type": "NUMBER", "description": "addend"},
        ],
        "required": ["a"],
    }
    assert add(2, b=3) == 5


def test_docstring_types_descriptions_and_exploded_return():
    @tool_api(explode_return=True)
    def foo(
        a,
        b,
        c: List[str],
        d: Optional[list] = None,
        e: float = 1.0,
        f: bool = False,
        g: Optional[Dict] = None,
    ):
        """A simple function.

        Second paragraph
        spans lines.

        Args:
            a (int): first
                continues here
            b (:class:`float`): second
            c (str): third
            d (list[int]): fourth
            e (float): fifth
            f (bool, optional): sixth
            g (dict): seventh

        Returns:
            dict: information of inputs
                * x: value of a
                * y (int): value of b
        """
        return {"x": a, "y": b}

    assert foo.api_description == {
        "name": "foo",
        "description": "A simple function.\n\nSecond paragraph\nspans lines.",
        "parameters": [
            {"name": "a", "type": "NUMBER", "description": "first\ncontinues here"},
            {"name": "b", "type": "FLOAT", "description": "second"},
            {"name": "c", "type": "STRING", "description": "third"},
            {"name": "d", "type": "Array", "description": "fourth"},
            {"name": "e", "type": "FLOAT", "description": "fifth"},
            {"name": "f", "type": "BOOLEAN", "description": "sixth"},
            {"name": "g", "type": "STRING", "description": "seventh"},
        ],
        "required": ["a", "b", "c"],
        "return_data": [
            {"name": "x", "description": "value of a"},
            {"name": "y", "description": "value of b", "type": "NUMBER"},
        ],
    }


def test_named_return_values_and_generic_annotations():
    @tool_api(returns_named_value=True)
    def bar(
        q: str, n: Optional[int] = None, t: Tuple[int, str] = (1, "a"), u: Union[int, float] = 1
    ):
        """Search things

        Args:
            q (str): the query
            n (int): how many

        Returns:
            results (list): the hits
            count (int): how many hits
        """

    desc = bar.api_description
    assert [(p["name"], p["type"]) for p in desc["parameters"]] == [
        ("q", "STRING"),
        ("n", "NUMBER"),
        ("t", "STRING"),
        ("u", "FLOAT"),
    ]
    assert desc["return_data"] == [
        {"name": "results", "description": "the hits", "type": "Array"},
        {"name": "count", "description": "how many hits", "type": "NUMBER"},
    ]


def test_include_exclude_and_string_annotations():
    @tool_api(include_arguments=["x"])
    def inc(x, y=2, session_id=None):
        """No args section."""

    @tool_api(exclude_arguments="y")
    def exc(x: "int", y=2):
        return 1

    assert inc.api_description["parameters"] == [{"name": "x", "type": "STRING", "description": ""}]
    assert exc.api_description == {
        "name": "exc",
        "description": "",
        "parameters": [{"name": "x", "type": "NUMBER", "description": ""}],
        "required": ["x"],
    }


def test_untyped_docstring_arguments_do_not_crash():
    # lagent crashed (AttributeError) on ``name: text`` without a type
    @tool_api
    def f(a, b: int):
        """F.

        Args:
            a: first
            b: second
        """

    assert f.api_description["parameters"] == [
        {"name": "a", "type": "STRING", "description": "first"},
        {"name": "b", "type": "NUMBER", "description": "second"},
    ]


def test_explode_return_without_returns_section_is_a_clear_error():
    with pytest.raises(ValueError, match="no 'Returns:' section"):

        @tool_api(explode_return=True)
        def f(a):
            """No returns."""


async def test_async_tool_api_stays_a_coroutine_function():
    @tool_api
    async def aget(url: str, timeout: float = 3.0) -> str:
        """Fetch a url.

        Args:
            url (str): where
        """
        return url

    assert aget.api_description["parameters"][1] == {
        "name": "timeout",
        "type": "FLOAT",
        "description": "",
    }
    assert await aget("u") == "u"


class Bold(BaseAction):
    """Make text bold"""

    def run(self, text: str, times: int = 1):
        """Bold it.

        Args:
            text (str): input text
            times (int): repetitions

        Returns:
            str: bold text
        """
        return "**" + text + "**"


class Calculator(BaseAction):
    """Calculator toolkit.

    Does maths.
    """

    @tool_api
    def add(self, a: int, b: int):
        """Add operation

        Args:
            a (int): augend
            b (int): addend
        """
        return a + b

    @tool_api(explode_return=True)
    def divmod(self, a: int, b: int):
        """Divide

        Args:
            a (int): dividend
            b (int): divisor

        Returns:
            dict: the result
                - q: quotient
                - r: remainder
        """
        return {"q": a // b, "r": a % b}


def test_run_only_class_is_flattened():
    bold = Bold()
    assert not bold.is_toolkit and bold.name == "Bold"
    desc = dict(bold.description)
    assert desc.pop("parameter_description")  # added by JsonParser
    assert desc == {
        "name": "Bold",
        "description": "Bold it.",
        "parameters": [
            {"name": "text", "type": "STRING", "description": "input text"},
            {"name": "times", "type": "NUMBER", "description": "repetitions"},
        ],
        "required": ["text"],
    }


def test_toolkit_lists_its_apis():
    calc = Calculator()
    assert calc.is_toolkit
    desc = calc.description
    assert desc["name"] == "Calculator"
    assert desc["description"] == "Calculator toolkit.\n\nDoes maths."
    assert [api["name"] for api in desc["api_list"]] == ["add", "divmod"]
    assert desc["api_list"][1]["return_data"] == [
        {"name": "q", "description": "quotient"},
        {"name": "r", "description": "remainder"},
    ]
    assert all("parameter_description" in api for api in desc["api_list"])
    # the class-level description is not modified by instances
    assert "parameter_description" not in Calculator.__tool_description__["api_list"][0]


def test_class_without_run_or_apis_and_docstring_fallback():
    class Empty(BaseAction):
        """Nothing here"""

    class Echo(BaseAction):
        @tool_api
        def run(self, text):
            return text

    assert Empty().description["parameters"] == [] and not Empty().is_toolkit
    assert Empty().description["description"] == "Nothing here"
    assert Echo().description["description"] == ""


def test_run_and_other_apis_conflict():
    with pytest.raises(KeyError, match="`run` and other tool APIs"):

        class Bad(BaseAction):
            @tool_api
            def run(self):
                pass

            @tool_api
            def other(self):
                pass

    class PlainRunHelper(BaseAction):  # a plain run beside APIs is just a helper (as in lagent)
        def run(self):
            pass

        @tool_api
        def other(self):
            pass

    assert PlainRunHelper().is_toolkit


def test_subclass_inherits_tool_apis():
    class LoudBold(Bold):
        def __init__(self):
            super().__init__()
            self.loud = True

    class SciCalc(Calculator):
        @tool_api
        def neg(self, a: int):
            """Negate"""
            return -a

    assert LoudBold().description["parameters"] == Bold().description["parameters"]
    assert [api["name"] for api in SciCalc().description["api_list"]] == ["add", "divmod", "neg"]

    class Documented(Calculator):
        @tool_api
        def add(self, a: int, b: int):
            """Overridden add"""
            return a + b

    class Both(Documented, SciCalc):  # a diamond: the MRO decides which ``add`` is seen
        pass

    apis = {api["name"]: api for api in Both().description["api_list"]}
    assert sorted(apis) == ["add", "divmod", "neg"]
    assert apis["add"]["description"] == "Overridden add"
    assert Both()({"a": 1, "b": 2}, "add").result[0]["content"] == "3"


async def test_async_action_description_and_call():
    class AsyncBold(AsyncActionMixin, BaseAction):
        """Async bold"""

        @tool_api
        async def run(self, text: str):
            """Bold.

            Args:
                text (str): input
            """
            return "**" + text + "**"

    tool = AsyncBold()
    assert tool.description["description"] == "Bold."
    result = await tool({"text": "hi"})
    assert result.result == [{"type": "text", "content": "**hi**"}]
