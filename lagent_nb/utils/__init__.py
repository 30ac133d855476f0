"""Helpers shared across layers (``create_object``, ``filter_suffix``, ``get_logger``)."""

from .copying import clone_message, fast_deepcopy, make_message
from .util import (
    GeneratorWithReturn,
    create_object,
    filter_suffix,
    get_logger,
    is_module_exist,
    load_class_from_string,
)

__all__ = [
    "GeneratorWithReturn",
    "clone_message",
    "create_object",
    "fast_deepcopy",
    "filter_suffix",
    "get_logger",
    "is_module_exist",
    "load_class_from_string",
    "make_message",
]
