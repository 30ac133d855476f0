"""Prompt templates and output parsers (the text side of talking to a model)."""

from .internlm import INTERPRETER_CN, INTERPRETER_EN, META_CN, META_EN, PLUGIN_CN, PLUGIN_EN
from .parsers import (
    CustomFormatParser,
    InterpreterParser,
    JSONParser,
    MixedToolParser,
    PluginParser,
    StrParser,
    ToolParser,
    ToolStatusCode,
)
from .prompt_template import PromptTemplate

__all__ = [
    "INTERPRETER_CN",
    "INTERPRETER_EN",
    "META_CN",
    "META_EN",
    "PLUGIN_CN",
    "PLUGIN_EN",
    "CustomFormatParser",
    "InterpreterParser",
    "JSONParser",
    "MixedToolParser",
    "PluginParser",
    "PromptTemplate",
    "StrParser",
    "ToolParser",
    "ToolStatusCode",
]
