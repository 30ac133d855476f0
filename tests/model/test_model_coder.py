"""A coder agent (ToolParser + sibling-kernel interpreter) runs its loop on the real model.

The model may write wrong code; the test checks the loop: a fenced block was parsed, the code
was run in a sibling kernel (its output or its error went back to the model), and the loop
stopped within ``max_turn``.
"""

from __future__ import annotations

import pytest

from lagent_nb.actions import ActionExecutor, IPythonInterpreter
from lagent_nb.agents import Agent
from lagent_nb.agents.aggregator import InternLMToolAggregator
from lagent_nb.hooks import InternLMActionProcessor
from lagent_nb.kernels import KernelSessions
from lagent_nb.prompts.parsers import ToolParser

pytestmark = [pytest.mark.model, pytest.mark.slow]

SYSTEM = (
    "You write Python. Answer with one ```python code block; you will then see its output. "
    "When the output answers the task, reply in one sentence without code."
)


class Coder(Agent):
    def __init__(self, llm, kernels, max_turn=3):
        super().__init__()
        self.agent = Agent(
            llm,
            SYSTEM,
            output_format=ToolParser("interpreter", begin="```python\n", end="\n```"),
            aggregator=InternLMToolAggregator(),
        )
        self.executor = ActionExecutor(
            [IPythonInterpreter(kernels=kernels)], hooks=[InternLMActionProcessor()]
        )
        self.max_turn = max_turn

    def forward(self, message, session_id=0):
        for _ in range(self.max_turn):
            message = self.agent(message, session_id=session_id)
            if message.formatted["tool_type"] is None:
                return message
            message = self.executor(message, session_id=session_id)
        return message


@pytest.fixture
def kernels():
    sessions = KernelSessions(spare=False)
    yield sessions
    sessions.close()


def test_coder_loop_with_the_embedded_model(embedded, kernels):
    llm = embedded.get_llm(max_new_tokens=200, stop_words=["\n```"])
    coder = Coder(llm, kernels, max_turn=3)
    reply = coder("Use Python to print the sum of the squares of the integers 1 to 10.")

    history = coder.state_dict()["agent.memory"]
    senders = [m["sender"] for m in history]
    model_turns = [m for m in history if m["sender"] == "Agent"]
    assert senders[0] == "user"
    assert 1 <= len(model_turns) <= coder.max_turn
    first = model_turns[0]
    assert first["formatted"]["tool_type"] == "interpreter", f"no code block in {first!r}"
    assert first["formatted"]["action"].strip()
    # The code ran in a sibling kernel, and its output (or its error) went back to the model.
    assert senders[senders.index("Agent") + 1] == "ActionExecutor"
    assert kernels.sessions(), "no sibling kernel was started"
    assert reply.content == history[-1]["content"] or senders[-1] == "ActionExecutor"
