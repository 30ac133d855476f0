"""The base output format: a template whose ``{fields}`` are filled from keyword arguments."""

from __future__ import annotations

import string
from typing import Any, Set


def template_fields(template: str) -> Set[str]:
    """Names of the ``{field}`` placeholders in a ``str.format`` template."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed format template {template!r:.200}: {exc}") from None
    # ``{a.b}`` and ``{a[0]}`` are both the keyword ``a``; ``{}`` stays as the name ``''``.
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in parsed if name is not None}


class StrParser:
    """An output format whose instruction is ``template`` with every field filled in.

    Every ``{field}`` of ``template`` must be given as a keyword argument: a missing one is a
    configuration mistake that would otherwise surface much later as a ``KeyError`` while the
    first prompt is being built, so it is reported here, naming the fields. Subclasses change
    how a field value becomes text (:meth:`format_to_string`) and how a reply is read back
    (:meth:`parse_response`).
    """

    def __init__(self, template: str = "", **format_field: Any) -> None:
        missing = template_fields(template) - set(format_field)
        if missing:
            raise ValueError(
                f"{type(self).__name__}: the template uses fields {sorted(missing)} that were "
                "not given; pass them as keyword arguments, e.g. "
                f"{type(self).__name__}(template, {sorted(missing)[0]}=...)"
            )
        self.template = template
        self.format_field = format_field

    def format_instruction(self) -> Any:
        """The text that tells the model how to answer."""
        if not self.template:  # asked on every model call; nothing to fill in
            return self.template
        values = {key: self.format_to_string(value) for key, value in self.format_field.items()}
        return self.template.format(**values)

    def format_to_string(self, format_model: Any) -> Any:
        """How one field value is rendered into the instruction (as is, here)."""
        return format_model

    def format_response(self, parsed: Any) -> str:
        """Render a parsed reply back to the text the model would have written."""
        raise NotImplementedError(f"{type(self).__name__} cannot render a parsed reply")

    def parse_response(self, data: str) -> Any:
        """Read the model's reply (returned unchanged here)."""
        return data
