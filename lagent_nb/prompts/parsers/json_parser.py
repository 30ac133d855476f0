"""An output format described by pydantic models and answered in JSON.

The instruction shows each model as commented pseudo-JSON (types as strings, ``//`` comments
for descriptions and defaults), which small models imitate more reliably than a JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Type, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from .str_parser import StrParser

# A reply that copies the instruction literally has type names as values; those mean "unset".
_TYPE_PLACEHOLDERS = ("str", "int", "float", "bool", "list", "dict")


def type_name(annotation: Any) -> str:
    """A short readable name: ``list[str]``, ``Union[int, NoneType]``, ``int``."""
    if annotation is None:
        return "Any"
    origin = get_origin(annotation)
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _nested_model(annotation: Any) -> Type[BaseModel] | None:
    """The pydantic model a field holds directly or inside a container, if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _render_model_lines(model: Type[BaseModel], depth: int) -> List[str]:
    """Pseudo-JSON lines for the fields of ``model``, indented ``depth`` levels."""
    pad = "    " * depth
    lines = []
    for name, field in model.model_fields.items():
        if field.description:
            lines.append(f"{pad}// {field.description}")
        nested = _nested_model(field.annotation)
        if nested is not None:
            lines.append(f'{pad}"{name}": {{')
            lines.extend(_render_model_lines(nested, depth + 1))
            lines.append(f"{pad}}},")
        elif field.default is PydanticUndefined:
            lines.append(f'{pad}"{name}": "{type_name(field.annotation)}",  // required')
        else:
            lines.append(
                f'{pad}"{name}": "{type_name(field.annotation)}",  // default: {field.default}'
            )
    return lines


def strip_comment_lines(text: str) -> str:
    """Drop the lines that are ``//`` comments (models often echo the instruction's)."""
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("//"))


class JSONParser(StrParser):
    """Format fields are pydantic model classes; replies are JSON objects matching one of them.

    ``parse_response`` drops ``//`` comment lines, decodes the JSON and picks the first model
    (in keyword order) that validates it. Values that are bare type names (``"str"``...),
    as in a copied instruction, fall back to the field default (an error if required). Keys no
    model knows are dropped. Returns a plain dict (``model_dump``).

    Errors: undecodable JSON is ``ValueError('Input string is not a valid JSON.')``; JSON that
    fits no model is a ``ValueError`` naming the models.
    """

    def format_to_string(self, format_model: Type[BaseModel]) -> str:
        lines = _render_model_lines(format_model, 1)
        if lines and lines[-1].endswith(","):
            lines[-1] = lines[-1][:-1]
        return "{\n" + "\n".join(lines) + "\n}"

    def parse_response(self, data: str) -> Dict[str, Any]:
        try:
            decoded = json.loads(strip_comment_lines(data))
        except (json.JSONDecodeError, RecursionError):
            raise ValueError("Input string is not a valid JSON.") from None
        model = self._first_matching_model(decoded)
        values = {}
        for name, value in decoded.items():
            field = model.model_fields.get(name)
            if field is None:
                continue
            if isinstance(value, str) and value in _TYPE_PLACEHOLDERS:
                if field.default is PydanticUndefined:
                    raise ValueError(f"Field '{name}' is required but not provided")
                value = field.default
            values[name] = value
        return model.model_validate(values).model_dump()

    def _first_matching_model(self, decoded: Any) -> Type[BaseModel]:
        names = [getattr(m, "__name__", repr(m)) for m in self.format_field.values()]
        if not isinstance(decoded, dict):
            raise ValueError(f"expected a JSON object for one of {names}; got {decoded!r:.200}")
        for model in self.format_field.values():
            try:
                model.model_validate(decoded)
            except ValidationError:
                continue
            return model
        raise ValueError(
            f"the JSON reply matches none of the expected formats {names}: {decoded!r:.200}"
        )
