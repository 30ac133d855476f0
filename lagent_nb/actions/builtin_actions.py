"""The executor's fallback actions: an unknown tool, a reply with no tool call, the final answer."""

from __future__ import annotations

from typing import Any, Optional, Type

from lagent_nb.schema import ActionReturn, ActionStatusCode, ActionValidCode

from .base_action import BaseAction, tool_api
from .parser import BaseParser


def _message_or(default: str, err_msg: Any) -> str:
    """A caller's message when it is text, else the default.

    The executor forwards the model's arguments here; lagent used them verbatim as the error
    message (a dict), which told the model nothing about what went wrong.
    """
    return err_msg if isinstance(err_msg, str) and err_msg else default


class _ErrorAction(BaseAction):
    """Shared by the fallbacks that only ever answer with an error (``valid=INVALID``,
    ``API_ERROR``); each subclass says when it answers and with what default message."""

    default_message = ""

    def __init__(
        self,
        err_msg: Optional[str] = None,
        description: Optional[dict] = None,
        parser: Type[BaseParser] = BaseParser,
    ) -> None:
        super().__init__(description, parser)
        self._err_msg = err_msg or self.default_message

    def _error(self, err_msg: Any) -> ActionReturn:
        return ActionReturn(
            args={"text": err_msg},
            errmsg=_message_or(self._err_msg, err_msg),
            type=self.name,
            valid=ActionValidCode.INVALID,
            state=ActionStatusCode.API_ERROR,
        )


class InvalidAction(_ErrorAction):
    """Answers a call to a tool that does not exist (``valid=INVALID``, ``API_ERROR``)."""

    default_message = "The action is invalid, please check the action name."

    @tool_api
    def run(self, err_msg: Optional[str] = None) -> ActionReturn:
        """Report that the requested action is invalid.

        Args:
            err_msg (str, optional): a specific message; the default one otherwise.
        """
        return self._error(err_msg)


class NoAction(_ErrorAction):
    """Answers a reply that should have called a tool but did not follow the format."""

    default_message = "Please follow the format"

    @tool_api
    def run(self, err_msg: Optional[str] = None) -> ActionReturn:
        """Ask the model to follow the format.

        Args:
            err_msg (str, optional): a specific message; the default one otherwise.
        """
        return self._error(err_msg)


class FinishAction(BaseAction):
    """Carries the final answer (``valid=FINISH``, ``SUCCESS``)."""

    def __init__(
        self, description: Optional[dict] = None, parser: Type[BaseParser] = BaseParser
    ) -> None:
        super().__init__(description, parser)

    @tool_api
    def run(self, response: str) -> ActionReturn:
        """Return the final answer.

        Args:
            response (str): the final answer.
        """
        return ActionReturn(
            args={"text": response},
            result=[{"type": "text", "content": response}],
            type=self.name,
            valid=ActionValidCode.FINISH,
            state=ActionStatusCode.SUCCESS,
        )
