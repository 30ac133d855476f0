"""Sibling Jupyter kernels for code tools: one per session, isolated, limited and supervised.

This is the only package of lagent_nb that imports ``jupyter_client``.  Entry points:
:class:`KernelSessions` (kernels per ``(owner, session_id)``), :func:`default_kernels` (the one
the code actions share), :func:`shutdown_all` (what ``%unload_ext`` and ``atexit`` call), and the
result model :class:`Execution`.
"""

from .environment import scrub_environment
from .limits import KernelLimits
from .manager import KernelSessions, default_kernels, shutdown_all
from .results import Execution, ExecutionError, Logs, Result
from .sibling import ExecutionPolicy, KernelStartError

__all__ = [
    "Execution",
    "ExecutionError",
    "ExecutionPolicy",
    "KernelLimits",
    "KernelSessions",
    "KernelStartError",
    "Logs",
    "Result",
    "default_kernels",
    "scrub_environment",
    "shutdown_all",
]
