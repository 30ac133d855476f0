"""Parsers for replies that may contain one tool call between a begin and an end marker.

InternLM-style models write ``thought<|action_start|><|plugin|>\\n{json}<|action_end|>\\n``;
these parsers split such a reply into ``{tool_type, thought, action, status}`` and render that
dict back into text (for few-shot examples and for replaying the agent's own turns).
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any, Callable, Dict, List, Optional, Union

from lagent_nb.utils import create_object, load_class_from_string

from .str_parser import StrParser


class ToolStatusCode(IntEnum):
    """What :meth:`ToolParser.parse_response` found in a reply."""

    NO_TOOL = 0
    VALID_TOOL = 1
    PARSING_ERROR = -1


def default_plugin_validate(text: str) -> dict:
    """Validator for plugin calls: the action must be one JSON object ``{...}``."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"a plugin call must be a JSON object {{...}}; got {text!r:.200}")
    return json.loads(text)


def parsed_reply(tool_type: Optional[str], thought: str, action: Any, status: ToolStatusCode):
    """The dict every tool parser returns (one place that fixes its keys)."""
    return {"tool_type": tool_type, "thought": thought, "action": action, "status": status}


class ToolParser(StrParser):
    """Finds one tool call written as ``thought + begin + action + end``.

    ``parse_response`` returns ``{tool_type, thought, action, status}``:

    * no ``begin`` marker: ``tool_type=None``, the whole text as ``thought``, ``NO_TOOL``;
    * otherwise ``thought`` is the text before the first ``begin``, ``action`` the text after
      it up to the first ``end`` (or to the next ``begin``/the end of the text when ``end`` is
      missing, so a reply cut by a stop word still parses), then ``validate(action)`` if given.
      A validator that raises gives ``PARSING_ERROR`` with the raw action kept, so the agent
      can show the model its mistake instead of crashing.

    ``begin`` and ``end`` are also template fields, so an instruction may mention them.
    ``validate`` may be a callable or an import path string.
    """

    def __init__(
        self,
        tool_type: str,
        template: str = "",
        begin: str = "<tool>\n",
        end: str = "</tool>\n",
        validate: Union[Callable[[str], Any], str, None] = None,
        **kwargs: Any,
    ) -> None:
        if not begin:
            raise ValueError(f"{type(self).__name__}: 'begin' marker must be a non-empty string")
        super().__init__(template, begin=begin, end=end, **kwargs)
        self.tool_type = tool_type
        self.validate = load_class_from_string(validate) if isinstance(validate, str) else validate

    @property
    def begin(self) -> str:
        return self.format_field["begin"]

    @property
    def end(self) -> str:
        return self.format_field["end"]

    def parse_response(self, data: str) -> dict:
        begin, end = self.begin, self.end
        if begin not in data:
            return parsed_reply(None, data, None, ToolStatusCode.NO_TOOL)
        thought, action = data.split(begin)[:2]
        if end:
            action = action.split(end)[0]
        status = ToolStatusCode.VALID_TOOL
        if self.validate is not None:
            try:
                action = self.validate(action)
            except Exception:  # any validator failure means "the model wrote a bad call"
                status = ToolStatusCode.PARSING_ERROR
        return parsed_reply(self.tool_type, thought, action, status)

    def format_response(self, parsed: dict) -> str:
        if parsed["action"] is None:
            return parsed["thought"]
        if parsed["tool_type"] != self.tool_type:
            raise ValueError(
                f"{type(self).__name__} renders tool_type {self.tool_type!r}, "
                f"got a reply with tool_type {parsed['tool_type']!r}"
            )
        action = parsed["action"]
        text = json.dumps(action, ensure_ascii=False) if isinstance(action, dict) else str(action)
        markers = self.format_field  # not the properties: this runs for every replayed turn
        return parsed["thought"] + markers["begin"] + text + markers["end"]


class InterpreterParser(ToolParser):
    """Code-interpreter calls in InternLM2's markers; the action is the raw code string."""

    def __init__(
        self,
        tool_type: str = "interpreter",
        template: str = "",
        begin: str = "<|action_start|><|interpreter|>\n",
        end: str = "<|action_end|>\n",
        validate: Union[Callable[[str], Any], str, None] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(tool_type, template, begin, end, validate, **kwargs)


class PluginParser(ToolParser):
    """Plugin (function) calls in InternLM2's markers; the action must be a JSON object."""

    def __init__(
        self,
        tool_type: str = "plugin",
        template: str = "",
        begin: str = "<|action_start|><|plugin|>\n",
        end: str = "<|action_end|>\n",
        validate: Union[Callable[[str], Any], str, None] = default_plugin_validate,
        **kwargs: Any,
    ) -> None:
        super().__init__(tool_type, template, begin, end, validate, **kwargs)


class MixedToolParser(StrParser):
    """Several tool parsers behind one interface: the first that recognises its marker wins.

    ``parsers`` are instances or config dicts; they are keyed by ``tool_type`` (a later parser
    with the same type replaces an earlier one). ``format_instruction`` returns a list of system
    messages: this parser's own template (named ``tool_type`` when set), then one per
    sub-parser named after its tool type, skipping empty ones.
    """

    def __init__(
        self,
        tool_type: Optional[str] = None,
        template: str = "",
        parsers: Optional[List[Union[ToolParser, Dict]]] = None,
        **format_field: Any,
    ) -> None:
        self.tool_type = tool_type
        self.parsers: Dict[str, ToolParser] = {}
        for parser in parsers or []:
            parser = create_object(parser)
            self.parsers[parser.tool_type] = parser
        super().__init__(template, **format_field)

    def format_instruction(self) -> List[dict]:
        messages = []
        own = super().format_instruction()
        if own.strip():
            message = {"role": "system", "content": own}
            if self.tool_type:
                message["name"] = self.tool_type
            messages.append(message)
        for name, parser in self.parsers.items():
            content = parser.format_instruction()
            if content.strip():
                messages.append({"role": "system", "content": content, "name": name})
        return messages

    def parse_response(self, data: str) -> dict:
        for name, parser in self.parsers.items():
            parsed = parser.parse_response(data)
            if parsed["tool_type"] == name:
                return parsed
        return parsed_reply(None, data, None, ToolStatusCode.NO_TOOL)

    def format_response(self, parsed: dict) -> str:
        if parsed["action"] is None:
            return parsed["thought"]
        parser = self.parsers.get(parsed["tool_type"])
        if parser is None:
            raise ValueError(
                f"no parser for tool_type {parsed['tool_type']!r}; known: {sorted(self.parsers)}"
            )
        return parser.format_response(parsed)
