"""Meta templates: how each role of a conversation is wrapped for a given model family."""

from __future__ import annotations

_SPECIAL_NAMES = {"interpreter": "<|interpreter|>", "plugin": "<|plugin|>"}


def _chatml_role(role: str, *, aliases: bool) -> dict:
    begin = {
        "with_name": f"<|im_start|>{role} name={{name}}\n",
        "without_name": f"<|im_start|>{role}\n",
    }
    if aliases:
        begin["name"] = dict(_SPECIAL_NAMES)
    return {"role": role, "begin": begin, "end": "<|im_end|>\n"}


#: InternLM2 chat format (ChatML with ``name=`` and the plugin/interpreter special tokens).
INTERNLM2_META = [
    _chatml_role("system", aliases=True),
    _chatml_role("user", aliases=False),
    _chatml_role("assistant", aliases=True),
    _chatml_role("environment", aliases=True),
]
