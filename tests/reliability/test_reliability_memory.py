"""Property tests: loading arbitrary state never corrupts memory or raises exotic errors."""

import json
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lagent_nb.agents import Agent
from lagent_nb.memory import Memory
from lagent_nb.schema import AgentMessage, AgentStatusCode

CLEAR_ERRORS = (KeyError, TypeError, ValueError)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
message_dicts = st.fixed_dictionaries(
    {"content": json_values},
    optional={
        "sender": st.text(max_size=12),
        "formatted": json_values,
        "extra_info": json_values,
        "type": st.none() | st.text(max_size=8),
        "receiver": st.none() | st.text(max_size=8),
        "stream_state": st.sampled_from([int(code) for code in AgentStatusCode]),
    },
)
# Mostly-plausible state dicts with random damage: wrong keys, wrong value types, bad messages.
memory_values = st.none() | st.lists(message_dicts | json_values, max_size=4) | json_values
state_dicts = st.dictionaries(
    st.sampled_from(["memory", "inner.memory", "ghost.memory"]) | st.text(max_size=10),
    memory_values,
    max_size=4,
) | st.fixed_dictionaries(
    {"memory": memory_values, "inner.memory": memory_values},
    optional={"ghost.memory": memory_values},
)


class Pair(Agent):
    def __init__(self):
        super().__init__()
        self.inner = Agent(name="inner")


def snapshot(agent):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return json.dumps(agent.state_dict(0), default=repr, sort_keys=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=state_dicts | json_values)
def test_load_state_dict_gives_a_result_or_a_clear_error(state):
    agent = Pair()
    agent.memory.add("before", session_id=0)
    agent.inner.memory.add("inner before", session_id=0)
    before = snapshot(agent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agent.load_state_dict(state, session_id=0)
    except CLEAR_ERRORS as exc:
        assert str(exc), "errors say what went wrong"
        assert snapshot(agent) == before, "a failed load changes nothing"
        return
    # It loaded: every memory now holds exactly what the state dict described.
    for key, agent_part in (("memory", agent), ("inner.memory", agent.inner)):
        value = state[key] or []  # empty values mean "no messages", as in lagent
        items = [value] if isinstance(value, dict) else value
        expected = [AgentMessage.model_validate(m).model_dump() for m in items]
        assert agent_part.memory.get(0).save() == expected


@settings(max_examples=100, deadline=None)
@given(value=json_values | st.lists(message_dicts, max_size=3))
def test_memory_load_is_all_or_nothing(value):
    memory = Memory()
    memory.add("keep")
    try:
        memory.load(value)
    except CLEAR_ERRORS:
        assert [m.content for m in memory.memory] == ["keep"]
    else:
        assert all(isinstance(m, AgentMessage) for m in memory.memory)


@settings(max_examples=100, deadline=None)
@given(
    turns=st.lists(
        st.tuples(st.sampled_from(["user", "Agent", "tool", "专家"]), st.text()), max_size=8
    ),
    session=st.integers() | st.text(max_size=5),
)
def test_any_text_survives_state_dict_json_round_trip(turns, session):
    """Chinese, emoji, control characters, lone surrogates: what goes in comes back out."""
    source = Pair()
    for sender, text in turns:
        source.inner.memory.add(AgentMessage(sender=sender, content=text), session_id=session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = source.state_dict(session)
    restored = Pair()
    restored.load_state_dict(json.loads(json.dumps(state, ensure_ascii=False)), session_id=session)
    assert [(m.sender, m.content) for m in restored.inner.memory.get_memory(session)] == turns
