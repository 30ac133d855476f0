"""An output format of XML-like tags, one per field of a pydantic model."""

from __future__ import annotations

import bisect
import re
from typing import Dict, List, Tuple, Type

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from .json_parser import type_name
from .str_parser import StrParser

_OPEN_TAG = re.compile(r"<(\w+)[^<>]*>")
_CLOSE_TAG = re.compile(r"</(\w+)>")


def find_tags(text: str) -> Dict[str, str]:
    """``{tag: text}`` for each ``<tag ...>text</tag>``, scanning left to right.

    Each opening tag pairs with the first matching closing tag after it; scanning resumes
    after that pair. Closing-tag positions are indexed first so the scan stays linear-ish
    even on replies full of unclosed tags (a backtracking regex is quadratic there).
    """
    closings: Dict[str, List[Tuple[int, int]]] = {}
    for match in _CLOSE_TAG.finditer(text):
        closings.setdefault(match.group(1), []).append((match.start(), match.end()))
    found: Dict[str, str] = {}
    resume = 0
    for match in _OPEN_TAG.finditer(text):
        if match.start() < resume:
            continue
        spans = closings.get(match.group(1))
        if not spans:
            continue
        index = bisect.bisect_left(spans, (match.end(), -1))
        if index == len(spans):
            continue
        close_start, close_end = spans[index]
        found[match.group(1)] = text[match.end() : close_start]
        resume = close_end
    return found


class CustomFormatParser(StrParser):
    """Format fields are pydantic models rendered as ``<field type="T">default</field>`` lines.

    ``parse_response`` collects every ``<tag>value</tag>`` pair and returns an instance of the
    first model (in keyword order) that validates them, or raises a ``ValueError`` naming the
    models. (lagent's version looked up attributes it never set and always failed.)
    """

    def format_to_string(self, format_model: Type[BaseModel]) -> str:
        text = ""
        for name, field in format_model.model_fields.items():
            if field.description:
                text += f"<!-- {field.description} -->\n"
            default = "" if field.default in (PydanticUndefined, None) else field.default
            text += f'<{name} type="{type_name(field.annotation)}">{default}</{name}>\n'
        return text

    def parse_response(self, data: str) -> BaseModel:
        values = find_tags(data)
        for model in self.format_field.values():
            try:
                return model.model_validate(values)
            except ValidationError:
                continue
        names = [getattr(m, "__name__", repr(m)) for m in self.format_field.values()]
        raise ValueError(f"the reply matches none of the expected formats {names}: {values!r:.200}")
