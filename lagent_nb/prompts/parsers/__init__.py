"""Output formats: the instruction that tells a model how to answer, and the reader of its reply."""

from .custom_parser import CustomFormatParser
from .json_parser import JSONParser
from .str_parser import StrParser
from .tool_parser import (
    InterpreterParser,
    MixedToolParser,
    PluginParser,
    ToolParser,
    ToolStatusCode,
)

__all__ = [
    "CustomFormatParser",
    "InterpreterParser",
    "JSONParser",
    "MixedToolParser",
    "PluginParser",
    "StrParser",
    "ToolParser",
    "ToolStatusCode",
]
