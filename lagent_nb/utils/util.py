"""Small helpers shared by every layer: config-dict construction, stop-word trimming, logging."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sys
import time
from functools import partial
from logging.handlers import RotatingFileHandler
from typing import Any, List, Optional, Union


def load_class_from_string(class_path: str, path: Optional[str] = None) -> Any:
    """Import ``'package.module.Name'`` and return ``Name``.

    ``path`` is put on ``sys.path`` only for the duration of the import, so config files can
    point at user code without permanently changing the interpreter's search path.
    """
    module_name, _, attr = class_path.rpartition(".")
    if not module_name:
        raise ValueError(f"{class_path!r} is not a dotted import path like 'package.module.Name'")
    added = bool(path) and path not in sys.path
    if added:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(path)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


def create_object(config: Any = None) -> Any:
    """Build an object from a ``dict(type=..., **kwargs)`` config; anything else is returned as is.

    ``type`` may be a class (instantiated with the kwargs), any other callable (bound with
    ``functools.partial``) or an import string resolved first. Passing ready objects through
    unchanged is what lets every constructor accept either a config dict or an instance.
    """
    if not isinstance(config, dict):
        return config
    if "type" not in config:
        raise KeyError(f"a config dict needs a 'type' key naming what to build; got {config!r}")
    kwargs = dict(config)
    obj_type = kwargs.pop("type")
    if isinstance(obj_type, str):
        obj_type = load_class_from_string(obj_type)
    if inspect.isclass(obj_type):
        return obj_type(**kwargs)
    if not callable(obj_type):
        raise TypeError(f"config 'type' must be a class, callable or import string: {obj_type!r}")
    return partial(obj_type, **kwargs)


def filter_suffix(
    response: Union[str, List[str]], suffixes: Optional[List[str]] = None
) -> Union[str, List[str]]:
    """Cut each response at the first occurrence of any stop word in ``suffixes``.

    Backends that do not support stop words server-side still stop cleanly this way.
    """
    if suffixes is None:
        return response

    def cut(text: str) -> str:
        for suffix in suffixes:
            if suffix in text:
                text = text.split(suffix, 1)[0]
        return text

    if isinstance(response, str):
        return cut(response)
    return [cut(text) for text in response]


def get_logger(
    name: str = "lagent",
    level: str = "debug",
    fmt: str = "%(asctime)s %(levelname)8s %(filename)20s %(lineno)4s - %(message)s",
    add_file_handler: bool = False,
    log_dir: str = "log",
    log_file: Optional[str] = None,
    max_bytes: int = 50 * 1024 * 1024,
    backup_count: int = 3,
) -> logging.Logger:
    """A logger with one console handler (and optionally a rotating file handler).

    Unlike a naive version, calling it again for the same name does not stack duplicate
    handlers, so re-running a notebook cell does not multiply every log line.
    """
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(getattr(logging, level.upper(), logging.DEBUG))
    formatter = logging.Formatter(fmt)
    owned = [h for h in logger.handlers if getattr(h, "_lagent_nb", False)]
    for handler in owned:
        logger.removeHandler(handler)
        handler.close()

    console = logging.StreamHandler()
    console.setFormatter(formatter)
    console._lagent_nb = True  # type: ignore[attr-defined]
    logger.addHandler(console)
    if add_file_handler:
        os.makedirs(log_dir, exist_ok=True)
        log_file = log_file or time.strftime("%Y-%m-%d-%H-%M-%S", time.localtime()) + ".log"
        file_handler = RotatingFileHandler(
            os.path.join(log_dir, log_file),
            maxBytes=max_bytes,
            backupCount=backup_count,
            encoding="utf-8",
        )
        file_handler.setFormatter(formatter)
        file_handler._lagent_nb = True  # type: ignore[attr-defined]
        logger.addHandler(file_handler)
    return logger


def is_module_exist(module_name: str) -> bool:
    """Whether ``module_name`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


class GeneratorWithReturn:
    """Iterate a generator and keep its ``return`` value in ``.ret`` afterwards."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.ret: Any = None

    def __iter__(self):
        self.ret = yield from self.generator
        return self.ret
