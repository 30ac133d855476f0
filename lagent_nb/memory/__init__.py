"""Conversation memory: ``Memory`` per session, ``MemoryManager`` across sessions."""

from .base_memory import Memory, parse_saved
from .manager import MemoryEvent, MemoryManager

__all__ = ["Memory", "MemoryEvent", "MemoryManager", "parse_saved"]
