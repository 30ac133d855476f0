"""A hook that logs every message passing through agents and executors."""

from __future__ import annotations

import re
from typing import Any, Dict, Sequence

from lagent_nb.schema import AgentMessage
from lagent_nb.utils import get_logger

from .hook import Hook

_PALETTE = ("31", "32", "33", "34", "35", "36")
# API keys and bearer tokens must never reach a log file, even when a tool echoes them back.
_SECRET = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}|"
    r"(?i:(?:api[_-]?key|token|secret|password)\s*[=:]\s*)['\"]?[^\s'\",]{4,})"
)


def redact(text: str) -> str:
    """Replace anything that looks like a credential with ``***``."""
    return _SECRET.sub("***", text)


class MessageLogger(Hook):
    """Logs ``session id`` / sender / content at INFO level, one colour per sender."""

    def __init__(self, name: str = "lagent", add_file_handler: bool = False) -> None:
        self.logger = get_logger(
            name,
            "info",
            "%(asctime)s %(levelname)8s %(name)8s - %(message)s",
            add_file_handler=add_file_handler,
        )
        self.sender2color: Dict[str, str] = {}

    def before_agent(self, agent: Any, messages: Sequence[AgentMessage], session_id: Any) -> None:
        for message in messages:
            self._log(message, session_id)

    def after_agent(self, agent: Any, message: AgentMessage, session_id: Any) -> None:
        self._log(message, session_id)

    def before_action(self, executor: Any, message: AgentMessage, session_id: Any) -> None:
        self._log(message, session_id)

    def after_action(self, executor: Any, message: AgentMessage, session_id: Any) -> None:
        self._log(message, session_id)

    def _log(self, message: AgentMessage, session_id: Any) -> None:
        sender = message.sender
        color = self.sender2color.setdefault(
            sender, _PALETTE[len(self.sender2color) % len(_PALETTE)]
        )
        text = redact(f"session id: {session_id}, message sender: {sender}\n{message.content}")
        self.logger.info("\033[%sm%s\033[0m", color, text)
