"""lagent_nb: LLM agents that live inside Jupyter.

The agent core (``schema``, ``memory``, ``agents``, ``prompts``, ``hooks``, ``actions``, ``llms``,
``utils``) mirrors lagent 0.5's module layout, so lagent code runs by changing the import prefix.
``kernels`` runs agent-written code in sibling Jupyter kernels, and ``notebook`` adds the magics
and widgets; importing this package imports neither IPython nor ipywidgets.
"""

from __future__ import annotations

__version__ = "0.1.0"

LABEXTENSION_NAME = "lagent-nb"


def load_ipython_extension(ipython) -> None:
    """Entry point of ``%load_ext lagent_nb``; the notebook layer is imported only here."""
    from lagent_nb.notebook import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:
    """Entry point of ``%unload_ext lagent_nb`` (and the first half of ``%reload_ext``)."""
    from lagent_nb.notebook import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where ``jupyter labextension develop`` finds the prebuilt JupyterLab extension."""
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]
