"""Hooks around agent and tool calls (``Hook``, ``RemovableHandle``) and the stock ones."""

from .action_preprocessor import ActionPreprocessor, InternLMActionProcessor
from .hook import Hook, RemovableHandle
from .logger import MessageLogger

__all__ = [
    "ActionPreprocessor",
    "Hook",
    "InternLMActionProcessor",
    "MessageLogger",
    "RemovableHandle",
]
