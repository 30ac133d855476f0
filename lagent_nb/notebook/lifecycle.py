"""What the notebook layer starts outside itself, and how it stops it.

Sibling kernels (``lagent_nb.kernels``) and the embedded model (``lagent_nb.llms.local``) are
owned by their modules; the extension only asks them to stop. (Interrupting a sibling kernel
needs no help from here: the kernels layer interrupts the kernel a cancelled or interrupted
call was waiting on.) A module that was
never imported started nothing, so it is looked up in ``sys.modules`` rather than imported:
unloading never starts anything and works whether or not those layers are installed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)

KERNELS_MODULE = "lagent_nb.kernels"
LOCAL_MODEL_MODULE = "lagent_nb.llms.local"


def _call_if_loaded(module_name: str, function: str) -> Any:
    module = sys.modules.get(module_name)
    func = getattr(module, function, None) if module is not None else None
    if func is None:
        return None
    try:
        return func()
    except Exception:  # stopping one thing must not keep the others running
        logger.exception("%s.%s() failed", module_name, function)
        return None


def shutdown_everything() -> None:
    """Close every sibling kernel and stop the embedded model, if they were started."""
    _call_if_loaded(KERNELS_MODULE, "shutdown_all")
    _call_if_loaded(LOCAL_MODEL_MODULE, "stop_server")


def make_reentrant(loop: asyncio.AbstractEventLoop) -> None:
    """Let ``loop.run_until_complete`` run inside the already running kernel loop.

    This is what makes async agents finish inside a cell, and lagent's own examples
    (``asyncio.get_event_loop().run_until_complete(...)``) run verbatim in a notebook.
    """
    if getattr(loop, "_nest_patched", False):
        return
    import nest_asyncio

    nest_asyncio.apply(loop)
