"""The LLM a notebook example runs on, and the one visible switch that makes it scripted.

Example notebooks call ``notebook_llm(script=[...])``. Normally that is the project's default
LLM (``lagent_nb.llms.get_default_llm``: an OpenAI-compatible endpoint from the environment,
else the embedded local model). With ``LAGENT_NB_SCRIPTED=1`` in the environment it is a
``ScriptedLLM`` that answers from ``script`` instead, so CI can execute every notebook quickly
and deterministically. The choice is printed in the cell output, never made silently.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence, Union

SCRIPTED_ENV = "LAGENT_NB_SCRIPTED"


def scripted_mode() -> bool:
    """True when ``$LAGENT_NB_SCRIPTED`` asks for scripted LLMs (``1``, ``true``, ``yes``)."""
    return os.environ.get(SCRIPTED_ENV, "").strip().lower() in ("1", "true", "yes")


def notebook_llm(
    script: Optional[Union[Sequence[str], Callable[[list], str]]] = None,
    *,
    async_: bool = False,
    chunk_size: Optional[int] = None,
    quiet: bool = False,
    request_timeout: Optional[float] = None,
    **gen_params: Any,
) -> Any:
    """The default LLM, or (``$LAGENT_NB_SCRIPTED=1``) a scripted one replaying ``script``.

    ``script`` is the list of replies (or a ``f(messages) -> str``) the scripted LLM gives;
    ``chunk_size`` sets how it streams. ``async_`` picks the async twin in both modes.
    ``request_timeout`` (default mode only) is how long to wait for the server's answer,
    worth raising when several requests share a CPU-bound local model.
    """
    if scripted_mode():
        if script is None:
            raise ValueError(
                f"{SCRIPTED_ENV}=1 asks for a scripted LLM, but this cell gives no script: "
                "pass notebook_llm(script=[...]) or unset the variable to use the real model."
            )
        from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM

        cls = AsyncScriptedLLM if async_ else ScriptedLLM
        llm = cls(script, chunk_size=chunk_size, **gen_params)
        reason = f"{SCRIPTED_ENV}=1"
    else:
        from lagent_nb.llms import get_default_llm

        if request_timeout is not None:
            gen_params["timeout"] = request_timeout
        llm = get_default_llm(async_=async_, **gen_params)
        reason = f"default LLM; set {SCRIPTED_ENV}=1 for scripted replies"
    if not quiet:
        print(f"LLM: {type(llm).__name__} ({reason})")
    return llm
