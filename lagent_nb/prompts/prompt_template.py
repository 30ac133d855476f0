"""Prompt templates filled with ``str.format`` (``'json'``) or Jinja2 (``'jinja'``)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Set

from .parsers.str_parser import template_fields


def _jinja_fields(template: str) -> Set[str]:
    """Undeclared variables of a Jinja2 template (imports jinja2 only when it is used)."""
    try:
        import jinja2
        import jinja2.meta
    except ImportError:
        raise ImportError(
            "PromptTemplate(format_type='jinja') needs jinja2: pip install jinja2"
        ) from None
    try:
        return set(jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template)))
    except jinja2.TemplateError as exc:
        raise ValueError(f"invalid Jinja template: {exc}") from exc


class PromptTemplate:
    """A template whose variables are checked before it is filled.

    ``format(**variables)`` fills the template and returns the string. Passing a variable the
    template does not use is an error (usually a typo); so is leaving one of its variables out
    in ``'json'`` mode. ``actions_info`` / ``agents_info``, when set, fill ``action_info`` /
    ``agents_info`` unless those are passed explicitly, so an agent can inject tool
    descriptions into a user's template.
    """

    def __init__(self, template: str, format_type: str = "json") -> None:
        if format_type not in ("json", "jinja"):
            raise ValueError(f"format_type must be 'json' or 'jinja', got {format_type!r}")
        self.template = template
        self.format_type = format_type
        self.variables: Dict[str, Any] = {}
        self.actions_info: Optional[Any] = None
        self.agents_info: Optional[Any] = None

    def template_variables(self) -> Set[str]:
        """The variable names the template refers to."""
        if self.format_type == "jinja":
            return _jinja_fields(self.template)
        return template_fields(self.template)

    def format(self, **variables: Any) -> str:
        self.variables = variables
        return str(self)

    def _effective_variables(self) -> Dict[str, Any]:
        variables = dict(self.variables)
        if "action_info" not in variables and self.actions_info:
            variables["action_info"] = self.actions_info
        if "agents_info" not in variables and self.agents_info:
            variables["agents_info"] = self.agents_info
        return variables

    def __str__(self) -> str:
        variables = self._effective_variables()
        unknown = set(variables) - self.template_variables()
        if unknown:
            raise ValueError(
                f"variables {sorted(unknown)} are not used by the template; "
                f"it uses {sorted(self.template_variables())}"
            )
        if self.format_type == "jinja":
            import jinja2

            try:
                return jinja2.Template(self.template).render(variables)
            except jinja2.TemplateError as exc:
                raise ValueError(f"invalid Jinja template: {exc}") from exc
        missing = self.template_variables() - set(variables)
        if missing:
            raise ValueError(f"template variables {sorted(missing)} were not given")
        return self.template.format(**variables)
