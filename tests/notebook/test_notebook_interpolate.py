"""Brace interpolation and argument parsing: only real names are replaced, bad input is a
UsageError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from lagent_nb.notebook.interpolate import interpolate
from lagent_nb.notebook.magics import AgentMagics, parse_line, session_id

NS = {"x": 42, "name": "Ada", "In": ["", "print(1)", "df.head()"], "Out": {2: "<df>"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("value {x}", "value 42"),
        ("{name} and {In[1]} and {Out[2]}", "Ada and print(1) and <df>"),
        ("{missing} {In[9]} {Out[7]}", "{missing} {In[9]} {Out[7]}"),
        ("d = {'a': 1}; f'{x:>4}'", "d = {'a': 1}; f'{x:>4}'"),
        ("{{x}} stays", "{{x}} stays"),
        ("def f():\n    return {x for x in y}", "def f():\n    return {x for x in y}"),
        ("{x[0]}", "{x[0]}"),  # 42 is not subscriptable: left alone
        ("{In[-1]}", "df.head()"),
    ],
)
def test_interpolation_replaces_only_existing_names(text, expected):
    assert interpolate(text, NS) == expected


@given(st.text())
def test_interpolation_never_fails_and_keeps_text_without_placeholders(text):
    out = interpolate(text, NS)
    if "{" not in text:
        assert out == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_cell_arguments_parse_or_raise_usage_error(line):
    try:
        args = parse_line(AgentMagics.agent, line)
    except UsageError:
        return
    assert args.format in (None, "markdown", "text", "code", "json")
    assert args.timeout is None or args.timeout > 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "coder",
                "-s",
                "1",
                "--session",
                "x",
                "-o",
                "r",
                "--no-stream",
                "--timeout",
                "2",
                "-0",
                "-f",
                "json",
                "code",
                "--bg",
                "--no-interpolate",
                "'q",
                '"',
                "--",
                "nan",
                "inf",
            ]
        )
    )
)
def test_option_like_lines_parse_or_raise_usage_error(words):
    with contextlib.suppress(UsageError):
        parse_line(AgentMagics.agent, " ".join(words))


def test_parsed_options():
    args = parse_line(
        AgentMagics.agent,
        "blogger.writer -s 7 -o out --no-stream --timeout 2.5 -f code --bg --no-interpolate",
    )
    assert (args.name, args.session, args.output) == ("blogger.writer", 7, "out")
    assert args.no_stream and args.bg and args.no_interpolate
    assert (args.timeout, args.format) == (2.5, "code")
    assert session_id("abc") == "abc" and session_id("-3") == -3


@pytest.mark.parametrize(
    "line", ["a --timeout 0", "a --timeout -1", "a -f html", "a 'open", "a --nope"]
)
def test_bad_arguments_are_usage_errors(line):
    with pytest.raises(UsageError):
        parse_line(AgentMagics.agent, line)
