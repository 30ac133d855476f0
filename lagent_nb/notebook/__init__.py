"""The notebook layer: magics, rich display and widgets (the only layer importing IPython).

``%load_ext lagent_nb`` registers ``%%agent`` / ``%agent`` / ``%agent_reset`` and the rich
display of memories; ``%unload_ext lagent_nb`` removes them and stops what the extension's
agents started (running turns, sibling kernels, the embedded model). The widgets load lazily,
so magics work where ipywidgets is not wanted.
"""

from __future__ import annotations

from typing import Any

from lagent_nb.notebook import activity, lifecycle
from lagent_nb.notebook.display import Transcript, message_mimebundle
from lagent_nb.notebook.magics import AgentMagics
from lagent_nb.notebook.notebook_llm import notebook_llm
from lagent_nb.notebook.runner import AgentStopped, AgentTimeout, kernel_loop

__all__ = [
    "AgentMagics",
    "AgentStopped",
    "AgentTimeout",
    "ChatPanel",
    "MemoryTree",
    "Transcript",
    "load_ipython_extension",
    "message_mimebundle",
    "notebook_llm",
    "unload_ipython_extension",
]

_WIDGETS = {"ChatPanel": "chat_panel", "MemoryTree": "memory_tree"}
_MEMORY_TYPE = ("lagent_nb.memory.base_memory", "Memory")


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(f"lagent_nb.notebook.{_WIDGETS[name]}"), name)
    raise AttributeError(f"module 'lagent_nb.notebook' has no attribute {name!r}")


def _memory_bundle(memory: Any, include: Any = None, exclude: Any = None) -> dict:
    return Transcript(memory.memory)._repr_mimebundle_()


def load_ipython_extension(ip: Any) -> None:
    """Register the magics and the rich display of ``Memory`` objects."""
    lifecycle.make_reentrant(kernel_loop())
    ip.register_magics(AgentMagics(shell=ip))
    ip.display_formatter.mimebundle_formatter.for_type_by_name(*_MEMORY_TYPE, _memory_bundle)


def unload_ipython_extension(ip: Any) -> None:
    """Undo ``load_ipython_extension`` and stop what the extension's agents started."""
    manager = ip.magics_manager
    for instance in [m for m in manager.registry.values() if isinstance(m, AgentMagics)]:
        for kind, names in instance.magics.items():
            for name in names:
                manager.magics[kind].pop(name, None)
        manager.registry.pop(type(instance).__name__, None)
        if instance in ip.configurables:
            ip.configurables.remove(instance)
    formatter = ip.display_formatter.mimebundle_formatter
    formatter.deferred_printers.pop(_MEMORY_TYPE, None)
    formatter.type_printers = {
        t: f for t, f in formatter.type_printers.items() if f is not _memory_bundle
    }
    activity.cancel_all()
    lifecycle.shutdown_everything()
