"""Test doubles and loopback servers that several test areas share.

Kept light on purpose: importing this package pulls in neither Jupyter nor a network stack.
Heavier helpers live in sibling modules and are imported by name, e.g.
``from lagent_nb.testing.openai_server import OpenAIServer``.
"""

from lagent_nb.testing.scripted import AsyncScriptedLLM, ScriptedLLM, split_chunks

__all__ = ["AsyncScriptedLLM", "ScriptedLLM", "split_chunks"]
