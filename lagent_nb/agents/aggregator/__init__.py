"""Aggregators: memory → the message list sent to the LLM."""

from .default_aggregator import DefaultAggregator
from .tool_aggregator import InternLMToolAggregator

__all__ = ["DefaultAggregator", "InternLMToolAggregator"]
