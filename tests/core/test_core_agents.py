"""Agent call protocol, the agent tree, state dicts and containers."""

import json
import warnings

import pytest

from lagent_nb.agents import Agent, AgentDict, AgentList, Sequential
from lagent_nb.hooks import Hook
from lagent_nb.prompts.parsers import ToolParser
from lagent_nb.schema import AgentMessage
from lagent_nb.testing import ScriptedLLM


def quiet_state_dict(agent, session_id=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return agent.state_dict(session_id)


def contents(state, key):
    return [m["content"] for m in state[key]]


class Recorder(Hook):
    """Logs calls; ``replace_before``/``replace_after`` exercise truthy-return replacement."""

    def __init__(self, tag, log, replace_before=None, replace_after=None):
        self.tag, self.log = tag, log
        self.replace_before, self.replace_after = replace_before, replace_after

    def before_agent(self, agent, messages, session_id):
        self.log.append((self.tag, "before", [m.content for m in messages], session_id))
        if self.replace_before:
            return [AgentMessage(sender="user", content=self.replace_before)]
        return None

    def after_agent(self, agent, message, session_id):
        self.log.append((self.tag, "after", message.content, session_id))
        if self.replace_after:
            return message.model_copy(update={"content": self.replace_after})
        return None


class TestCallProtocol:
    def test_str_becomes_a_user_message_and_reply_is_from_the_agent(self):
        llm = ScriptedLLM(["急"])
        agent = Agent(llm, "你的回答只能从“典”、“孝”、“急”三个字中选一个。")
        reply = agent("今天天气情况")
        assert (reply.content, reply.sender, reply.formatted) == ("急", "Agent", None)
        assert llm.calls[0] == [
            {"role": "system", "content": "你的回答只能从“典”、“孝”、“急”三个字中选一个。"},
            {"role": "user", "content": "今天天气情况"},
        ]
        history = agent.memory.get_memory()
        assert [(m.sender, m.content) for m in history] == [
            ("user", "今天天气情况"),
            ("Agent", "急"),
        ]

    def test_hook_order_replacement_and_memory_keeps_pre_hook_reply(self):
        log = []
        llm = ScriptedLLM(["r1"])
        agent = Agent(
            llm,
            {"role": "system", "content": "S"},
            name="bot",
            hooks=[
                Recorder(1, log, replace_after="post"),
                Recorder(2, log, replace_before="replaced"),
            ],
        )
        reply = agent("hi", AgentMessage(sender="x", content="yo"), session_id=3)
        assert log == [
            (1, "before", ["hi", "yo"], 3),
            (2, "before", ["hi", "yo"], 3),
            (1, "after", "r1", 3),
            (2, "after", "post", 3),
        ]
        assert reply.content == "post"
        assert contents(agent.state_dict(3), "memory") == ["replaced", "r1"]
        assert llm.calls[0][-1] == {"role": "user", "content": "replaced"}

    def test_inputs_are_copied_and_the_reply_is_a_copy_of_memory(self):
        llm = ScriptedLLM(["ok"])
        agent = Agent(llm)
        original = AgentMessage(sender="user", content="q", extra_info={"list": [1]})
        reply = agent(original)
        original.extra_info["list"].append(2)
        reply.content = "changed by caller"
        stored = agent.memory.get_memory()
        assert stored[0].extra_info == {"list": [1]}
        assert stored[1].content == "ok"

    def test_parsed_replies_and_memory_never_share_mutable_state(self):
        """Copies are cheap now, but still deep: no caller or hook edit reaches memory."""
        parser = ToolParser(tool_type="code interpreter", begin="```python\n", end="\n```\n")
        llm = ScriptedLLM(["think\n```python\nprint(1)\n```\n", "done"])
        agent = Agent(llm, "sys", output_format=parser)
        question = AgentMessage(sender="user", content="q", formatted={"tags": ["x"]})
        reply = agent(question)
        question.formatted["tags"].append("y")
        reply.formatted["action"] = "import os"
        reply.formatted["extra"] = [1]
        stored_question, stored_reply = agent.memory.get_memory()
        assert stored_question.formatted == {"tags": ["x"]}
        assert (
            stored_reply.formatted["action"] == "print(1)" and "extra" not in stored_reply.formatted
        )
        stored_reply.formatted["thought"] = "edited in memory"
        assert reply.formatted["thought"] == "think\n"
        assert agent("next").content == "done"
        assert llm.calls[1][2]["content"] == "think\n```python\nprint(1)\n```\n"

    def test_per_call_kwargs_reach_the_llm(self):
        llm = ScriptedLLM(["a STOP b", "c"], stop_words=["<eos>"])
        agent = Agent(llm)
        assert agent("q", session_id=1, stop_words=["STOP"]).content == "a "
        assert llm.gen_params_log[0]["stop_words"] == ["STOP"]
        assert agent("q2", session_id=1).content == "c"
        assert llm.gen_params_log[1]["stop_words"] == ["<eos>"]

    def test_output_format_fills_formatted(self):
        parser = ToolParser(tool_type="code interpreter", begin="```python\n", end="\n```\n")
        llm = ScriptedLLM(["think\n```python\nprint(1)\n```\n"])
        reply = Agent(llm, "sys", output_format=parser)("q")
        assert reply.formatted == {
            "tool_type": "code interpreter",
            "thought": "think\n",
            "action": "print(1)",
            "status": 1,
        }

    def test_non_message_forward_result_is_wrapped_with_the_agent_name(self):
        class Echo(Agent):
            def forward(self, message, session_id=0):
                return {"echo": message.content}

        agent = Echo(name="echo")
        reply = agent("x")
        assert reply.sender == "echo" and reply.content == {"echo": "x"}

    def test_memory_none_and_llm_none_give_clear_errors(self):
        with pytest.raises(RuntimeError, match="memory=None"):
            Agent(ScriptedLLM(["x"]), memory=None)("q")
        with pytest.raises(RuntimeError, match="has no llm"):
            Agent()("q")

    def test_memory_keeps_user_message_and_no_reply_when_forward_fails(self):
        def explode(messages):
            raise ConnectionError("backend down")

        agent = Agent(ScriptedLLM(explode))
        with pytest.raises(ConnectionError):
            agent("hello")
        assert [m.content for m in agent.memory.get_memory()] == ["hello"]

    def test_keyboard_interrupt_propagates_and_leaves_no_reply(self):
        def interrupt(messages):
            raise KeyboardInterrupt

        agent = Agent(ScriptedLLM(interrupt))
        with pytest.raises(KeyboardInterrupt):
            agent("hello")
        assert [m.sender for m in agent.memory.get_memory()] == ["user"]

    def test_register_hook_handle_removal(self):
        log = []
        agent = Agent(ScriptedLLM(["a", "b"]))
        handle = agent.register_hook(Recorder("h", log))
        agent("1")
        handle.remove()
        handle.remove()
        agent("2")
        assert [entry[1] for entry in log] == ["before", "after"]

    def test_single_hook_config_is_accepted(self):
        log = []
        agent = Agent(ScriptedLLM(["a"]), hooks=Recorder("h", log))
        agent("x")
        assert len(log) == 2


class Blogger(Agent):
    def __init__(self, replies_writer, replies_critic):
        super().__init__()
        self.writer = Agent(ScriptedLLM(replies_writer), "write", name="writer")
        self.critic = Agent(ScriptedLLM(replies_critic), "criticise", name="critic")

    def forward(self, message, session_id=0):
        message = self.writer(message, session_id=session_id)
        message = self.critic(message, session_id=session_id)
        return self.writer(message, session_id=session_id)


class Team(Agent):
    def __init__(self):
        super().__init__()
        self.members = AgentList([Agent(ScriptedLLM([]), name="m0")])
        self.roles = AgentDict({"boss": Agent(ScriptedLLM([]), name="boss")})


class TestTree:
    def test_writer_critic_state_dict_keys_and_contents(self):
        blogger = Blogger(["draft", "final"], ["critique"])
        reply = blogger("topic", session_id=0)
        assert reply.content == "final"
        state = blogger.state_dict(session_id=0)
        assert list(state) == ["memory", "writer.memory", "critic.memory"]
        assert contents(state, "writer.memory") == ["topic", "draft", "critique", "final"]
        assert contents(state, "critic.memory") == ["draft", "critique"]
        assert contents(state, "memory") == ["topic", "final"]

    def test_repr_is_a_readable_tree(self):
        assert repr(Team()) == (
            "Team(name='Team')(\n"
            "  (members): AgentList(\n"
            "    (0): Agent(name='m0')\n"
            "  )\n"
            "  (roles): AgentDict(\n"
            "    (boss): Agent(name='boss')\n"
            "  )\n"
            ")"
        )
        assert repr(Agent()) == "Agent(name='Agent')"

    def test_team_state_dict_keys_skip_memoryless_containers(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = Team().state_dict()
        assert [str(w.message) for w in caught] == [
            f"No session id 0 in {key}"
            for key in ("memory", "members.0.memory", "roles.boss.memory")
        ]
        assert list(state) == ["memory", "members.0.memory", "roles.boss.memory"]
        assert all(value == [] for value in state.values())

    def test_assignment_order_reassignment_and_deletion(self):
        parent = Agent()
        parent.b = Agent(name="b")
        parent.a = Agent(name="a")
        assert list(parent._agents) == ["b", "a"]
        parent.b = "no longer an agent"
        assert list(parent._agents) == ["a"]
        del parent.a
        assert list(parent._agents) == []

    def test_children_assigned_before_super_init_are_kept(self):
        class Early(Agent):
            def __init__(self):
                self.inner = Agent(name="inner")
                super().__init__()

        assert list(quiet_state_dict(Early())) == ["memory", "inner.memory"]

    def test_load_state_dict_round_trip_through_json_with_unicode(self):
        source = Blogger(["草稿 ✍️", "终稿 🎉"], ["批评 🤔"])
        source("写一篇关于 AI 的博客 🚀", session_id="s1")
        text = json.dumps(source.state_dict("s1"), ensure_ascii=False)
        target = Blogger([], [])
        target.load_state_dict(json.loads(text), session_id=9)
        assert target.state_dict(9) == source.state_dict("s1")
        assert target.writer.memory.get_memory(9)[-1].content == "终稿 🎉"

    def test_load_state_dict_missing_extra_and_invalid(self):
        agent = Blogger([], [])
        agent.writer.memory.add("keep", session_id=0)
        good = {"memory": [], "writer.memory": [{"content": "w"}], "critic.memory": None}
        with pytest.raises(KeyError, match=r"Missing keys: .*critic\.memory"):
            agent.load_state_dict({"memory": [], "writer.memory": []})
        with pytest.warns(UserWarning, match=r"not used: .*'ghost\.memory'"):
            agent.load_state_dict({**good, "ghost.memory": []}, session_id=1)
        assert [m.content for m in agent.writer.memory.get_memory(1)] == ["w"]
        assert agent.critic.memory.get_memory(1) == []
        with pytest.raises(ValueError, match=r"state_dict\['critic.memory'\].*#0"):
            agent.load_state_dict({**good, "critic.memory": [{"sender": "no content"}]})
        assert [m.content for m in agent.writer.memory.get_memory(0)] == ["keep"], "all or nothing"
        with pytest.raises(TypeError, match="expects a mapping"):
            agent.load_state_dict([("memory", [])])

    def test_reset_session_keypath_and_recursive(self):
        blogger = Blogger(["d", "f", "d2", "f2"], ["c", "c2"])
        blogger("t", session_id=0)
        blogger("t", session_id=1)
        blogger.reset(session_id=0, keypath="writer")
        assert blogger.writer.memory.get(0) is None
        assert blogger.critic.memory.get(0) is not None and blogger.memory.get(0) is not None
        blogger.reset(session_id=0)
        assert blogger.memory.get(0) is None and blogger.critic.memory.get(0) is not None
        blogger.reset(session_id=1, recursive=True)
        assert all(a.memory.get(1) is None for a in (blogger, blogger.writer, blogger.critic))
        with pytest.raises(KeyError, match="No sub-agent named 'ghost'"):
            blogger.reset(keypath="ghost")
        with pytest.raises(ValueError, match="not both"):
            blogger.reset(keypath="writer", recursive=True)

    def test_reset_keypath_through_collections(self):
        team = Team()
        team.roles["boss"].memory.add("x", session_id=0)
        team.members[0].memory.add("y", session_id=0)
        team.reset(keypath="roles.boss")
        team.reset(keypath="members.0")
        assert team.roles["boss"].memory.get(0) is None
        assert team.members[0].memory.get(0) is None


class TestSequential:
    def make(self):
        return Sequential(
            Agent(ScriptedLLM(["s1", "s3"]), name="A"), Agent(ScriptedLLM(["s2"]), name="B")
        )

    def test_runs_in_order_and_exit_at_cycles(self):
        pipeline = self.make()
        reply = pipeline("go", exit_at=2)
        assert reply.content == "s3" and reply.sender == "A"
        state = pipeline.state_dict()
        assert list(state) == ["memory", "0.memory", "1.memory"]
        assert contents(state, "0.memory") == ["go", "s1", "s2", "s3"]
        assert contents(state, "1.memory") == ["s1", "s2"]
        assert contents(state, "memory") == ["go", "s3"]
        with pytest.raises(ValueError, match="exit_at"):
            pipeline("go", exit_at=-1)

    def test_indexing_after_add_agent_with_names(self):
        pipeline = self.make()
        extra = Agent(ScriptedLLM(["s3"]), name="C")
        pipeline.add_agent("critic", extra)
        assert len(pipeline) == 3
        assert pipeline[-1] is extra and pipeline["critic"] is extra
        assert pipeline[0].name == "A" and pipeline[-3].name == "A"
        with pytest.raises(IndexError):
            pipeline[3]
        with pytest.raises(TypeError, match="not an Agent"):
            pipeline.add_agent("x", object())

    def test_accepts_iterables_mappings_and_pairs(self):
        a, b = Agent(name="a"), Agent(name="b")
        assert list(Sequential([a, b])._agents) == ["0", "1"]
        assert list(Sequential({"x": a, "y": b})._agents) == ["x", "y"]
        assert list(Sequential(("p", a), ("q", b))._agents) == ["p", "q"]
        with pytest.raises(ValueError, match="at least one"):
            Sequential()
        with pytest.raises(ValueError, match="at least one"):
            Sequential([])


class TestCollections:
    def test_agent_list_validates_and_rolls_back(self):
        team = AgentList([Agent(name="a")])
        team.append(Agent(name="b"))
        team += [Agent(name="c")]
        assert list(team._agents) == ["0", "1", "2"]
        for mutate in (
            lambda: team.append("x"),
            lambda: team.insert(0, 3),
            lambda: team.extend([Agent(), None]),
            lambda: team.__setitem__(0, "y"),
        ):
            with pytest.raises(TypeError, match="not an Agent"):
                mutate()
        assert [agent.name for agent in team] == ["a", "b", "c"]
        with pytest.raises(TypeError):
            AgentList([1])

    def test_agent_dict_key_validation(self):
        roles = AgentDict({"boss": Agent(name="boss")})
        for key, exc in ((1, KeyError), ("a.b", KeyError), ("", KeyError)):
            with pytest.raises(exc):
                roles[key] = Agent()
        with pytest.raises(TypeError):
            roles["ok"] = "not an agent"
        with pytest.raises(KeyError):
            roles.update({"fine": Agent(), "bad.key": Agent()})
        with pytest.raises(KeyError):
            roles |= {"x.y": Agent()}
        assert list(roles) == ["boss"]
        roles.update(worker=Agent(name="w"))
        assert list(roles._agents) == ["boss", "worker"]
        assert roles.memory is None and roles.name is None


def test_lagent_module_paths_and_a_light_import():
    """``lagent.agents.agent.Sequential`` exists there too; the core never pulls in Jupyter."""
    import subprocess
    import sys

    from lagent_nb.agents.agent import AgentDict as AgentDictFromAgentModule
    from lagent_nb.agents.agent import Sequential as SequentialFromAgentModule

    assert SequentialFromAgentModule is Sequential
    assert AgentDictFromAgentModule is AgentDict
    probe = (
        "import sys, lagent_nb.agents, lagent_nb.memory, lagent_nb.hooks, lagent_nb.utils;"
        "print(sorted(m for m in ('lagent_nb.actions', 'IPython', 'ipywidgets', 'jupyter_client')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
