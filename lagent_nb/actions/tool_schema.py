"""Tool descriptions, in lagent's format and as OpenAI function (JSON Schema) definitions.

lagent's format, which prompts embed as JSON, is per API::

    {'name', 'description', 'parameters': [{'name', 'type', 'description'}], 'required',
     'return_data'?}

with the coarse types ``STRING``/``NUMBER``/``FLOAT``/``BOOLEAN``/``Array`` decided by a
substring test on the type's text (kept bit-for-bit, quirks included: ``List[str]`` is
``STRING``, ``List[int]`` is ``NUMBER``). Signature annotations beat docstring types;
``Annotated[T, 'text']`` supplies the description; Google-style docstrings supply the rest.

:func:`openai_tools` renders the same APIs as ``{'type': 'function', 'function': {...}}``
entries with real JSON Schema types taken from the annotations (``List[str]`` becomes
``{'type': 'array', 'items': {'type': 'string'}}``), for chat APIs with native tool calling.
"""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any, Callable, Dict, Iterable, List, Optional

import docstring_parser
from pydantic import TypeAdapter

from .parser import SESSION_PARAMETER

_RST_ROLE = re.compile(r":[\w.:-]+:`([^`]+)`")
_ITEM = re.compile(r"^\s*[-+*#.]*\s*(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_JSON_TYPE_OF = {
    "STRING": "string",
    "NUMBER": "integer",
    "FLOAT": "number",
    "BOOLEAN": "boolean",
    "Array": "array",
}
# OpenAI function names allow [A-Za-z0-9_-]; a toolkit API ``Tool.api`` is exported as this.
OPENAI_NAME_SEPARATOR = "__"


def detect_type(text: str) -> str:
    """lagent's coarse type for a type's text (see the module docstring)."""
    if "list" in text:
        return "Array"
    if "str" not in text:
        if "float" in text:
            return "FLOAT"
        if "int" in text:
            return "NUMBER"
        if "bool" in text:
            return "BOOLEAN"
    return "STRING"


def _annotation_text(annotation: Any) -> str:
    """The text lagent's type test looks at: the type arguments of a generic, else the type."""
    if typing.get_origin(annotation) is not None:
        return str(typing.get_args(annotation))
    return str(annotation)


def _split_annotated(annotation: Any):
    """``Annotated[T, 'desc', ...]`` -> ``(T, 'desc')``; anything else -> ``(annotation, None)``."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extras = typing.get_args(annotation)
        return inner, next((x for x in extras if isinstance(x, str) and x), None)
    return annotation, None


def _parse_items(text: str) -> List[dict]:
    """``name (type): description`` lines (bullets allowed) with continuation lines appended."""
    items: List[dict] = []
    for line in text.split("\n"):
        match = _ITEM.match(line)
        if match:
            name, type_text, description = match.groups()
            item = {"name": name, "description": description.strip()}
            if type_text:
                item["type"] = detect_type(type_text.lower())
            items.append(item)
        elif items and line.strip():
            items[-1]["description"] = (items[-1]["description"] + "\n" + line.strip()).strip()
    return items


def parse_docstring(doc: Optional[str]) -> docstring_parser.Docstring:
    """A Google-style docstring, with Sphinx roles like ``:class:`str``` reduced to ``str``."""
    text = _RST_ROLE.sub(r"\1", inspect.cleandoc(doc or ""))
    return docstring_parser.parse(text, docstring_parser.DocstringStyle.GOOGLE)


def _selected(name: str, include: Optional[set], exclude: set) -> bool:
    return name in include if include is not None else name not in exclude


def describe_function(
    func: Callable,
    *,
    explode_return: bool = False,
    returns_named_value: bool = False,
    include_arguments: Optional[Iterable[str]] = None,
    exclude_arguments: Optional[Iterable[str]] = None,
) -> dict:
    """Build the lagent-format description of one function (see :func:`tool_api`)."""
    include = {include_arguments} if isinstance(include_arguments, str) else include_arguments
    include = set(include) if include is not None else None
    exclude = {exclude_arguments} if isinstance(exclude_arguments, str) else exclude_arguments
    exclude = set(exclude or ()) | {"self"}

    doc = parse_docstring(func.__doc__)
    documented = {p.arg_name: p for p in doc.params}
    desc: Dict[str, Any] = {
        "name": func.__name__,
        "description": (doc.description or "").strip(),
        "parameters": [],
        "required": [],
    }
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not _selected(name, include, exclude):
            continue
        documented_param = documented.get(name)
        entry = {
            "name": name,
            "type": "STRING",
            "description": (documented_param.description or "") if documented_param else "",
        }
        if param.annotation is inspect.Parameter.empty:
            if documented_param and documented_param.type_name:
                entry["type"] = detect_type(documented_param.type_name.lower())
        else:
            annotation, note = _split_annotated(param.annotation)
            if note:
                entry["description"] = note
            entry["type"] = detect_type(_annotation_text(annotation))
        desc["parameters"].append(entry)
        if param.default is inspect.Parameter.empty:
            desc["required"].append(name)

    return_data = _return_data(func, doc, explode_return, returns_named_value)
    if return_data:
        desc["return_data"] = return_data
    return desc


def _return_data(func, doc, explode_return: bool, returns_named_value: bool) -> List[dict]:
    if not (explode_return or returns_named_value):
        return []
    returns = doc.returns
    if returns is None:
        raise ValueError(
            f"tool_api({'explode_return' if explode_return else 'returns_named_value'}=True) "
            f"on {func.__qualname__}: its docstring has no 'Returns:' section to read"
        )
    if explode_return:
        # The first line describes the whole value; the bullet lines below it its members.
        return _parse_items("\n".join((returns.description or "").split("\n")[1:]))
    # Named values: ``name (type): description`` per line.
    text = returns.description or ""
    if returns.type_name:  # docstring_parser took the first ``name:`` for a type
        text = f"{returns.type_name}: {text}"
    return _parse_items(text)


# --------------------------------------------------------------------------- OpenAI export


def _json_schema_of(annotation: Any, lagent_type: str) -> dict:
    """A JSON Schema for a parameter: from its annotation when pydantic can read it."""
    if annotation is not inspect.Parameter.empty and not isinstance(annotation, str):
        annotation, _ = _split_annotated(annotation)
        try:
            return TypeAdapter(annotation).json_schema()
        except Exception:  # arbitrary classes pydantic cannot describe: fall back below
            pass
    return {"type": _JSON_TYPE_OF.get(lagent_type, "string")}


def _resolved_annotations(func: Optional[Callable]) -> Dict[str, Any]:
    """Parameter annotations with string (``from __future__``) annotations resolved."""
    if func is None:
        return {}
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable forward references: use what the signature has
        try:
            return {n: p.annotation for n, p in inspect.signature(func).parameters.items()}
        except (TypeError, ValueError):
            return {}


def openai_function(api: dict, func: Optional[Callable] = None, name: Optional[str] = None) -> dict:
    """One lagent-format API description as an OpenAI ``tools`` entry.

    ``func`` (the implementing function) refines the parameter types from its annotations;
    without it the coarse lagent types are mapped (``NUMBER`` -> ``integer``...). A
    ``session_id`` parameter is left out: the executor fills it in, the model must not.
    """
    annotations = _resolved_annotations(func)
    properties = {}
    for param in api.get("parameters", []):
        if param["name"] == SESSION_PARAMETER:
            continue
        schema = _json_schema_of(
            annotations.get(param["name"], inspect.Parameter.empty), param.get("type", "STRING")
        )
        if param.get("description"):
            schema = {**schema, "description": param["description"]}
        properties[param["name"]] = schema
    function = {
        "name": name or api["name"],
        "description": api.get("description", ""),
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": [r for r in api.get("required", []) if r != SESSION_PARAMETER],
        },
    }
    return {"type": "function", "function": function}


def openai_tools(action: Any) -> List[dict]:
    """OpenAI ``tools`` entries for every API of ``action`` (a ``BaseAction``).

    A toolkit API ``Tool.api`` is named ``Tool__api`` (OpenAI names cannot contain dots);
    :class:`~lagent_nb.actions.ActionExecutor` routes that name back to ``Tool.api``.
    """
    if action.is_toolkit:
        return [
            openai_function(
                api,
                getattr(action, api["name"], None),
                f"{action.name}{OPENAI_NAME_SEPARATOR}{api['name']}",
            )
            for api in action.description["api_list"]
        ]
    return [openai_function(action.description, getattr(action, "run", None), action.name)]
