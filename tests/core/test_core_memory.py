"""Memory and MemoryManager: lagent's semantics plus change notification."""

import copy
import logging

import pytest

from lagent_nb.memory import Memory, MemoryEvent, MemoryManager
from lagent_nb.schema import AgentMessage


def msg(content, sender="user"):
    return AgentMessage(sender=sender, content=content)


def contents(messages):
    return [m.content for m in messages]


class TestMemory:
    def test_add_accepts_messages_strings_and_sequences_and_drops_the_rest(self):
        memory = Memory()
        memory.add(msg("a", "bot"))
        memory.add("b")
        memory.add(["c", msg("d"), 5, None, {"content": "x"}])
        memory.add(("e",))
        memory.add(None)
        assert contents(memory.get_memory()) == ["a", "b", "c", "d", "e"]
        assert memory.memory[1].sender == "user"

    def test_recent_n_window_then_filter_with_window_indices(self):
        memory = Memory(recent_n=3)
        memory.add(list("abcde"))
        assert contents(memory.get_memory()) == ["c", "d", "e"]
        assert contents(memory.get_memory(recent_n=2)) == ["d", "e"]
        kept = memory.get_memory(recent_n=4, filter_func=lambda i, m: i % 2 == 0)
        assert contents(kept) == ["b", "d"]

    def test_delete_single_and_several_positions_refer_to_the_original_order(self):
        memory = Memory()
        memory.add(list("abcde"))
        memory.delete(-1)
        assert contents(memory.memory) == list("abcd")
        memory.delete([0, 1])  # lagent would remove 'a' and 'c' here
        assert contents(memory.memory) == ["c", "d"]
        memory.delete([-1])
        assert contents(memory.memory) == ["c"]

    def test_delete_out_of_range_changes_nothing(self):
        memory = Memory()
        memory.add(list("ab"))
        with pytest.raises(IndexError, match="out of range"):
            memory.delete([0, 7])
        assert contents(memory.memory) == ["a", "b"]

    def test_save_load_round_trip_and_overwrite(self):
        memory = Memory()
        memory.add([msg("q"), msg({"k": [1, 2]}, "bot")])
        saved = memory.save()
        assert saved[1] == {
            "content": {"k": [1, 2]},
            "sender": "bot",
            "formatted": None,
            "extra_info": None,
            "type": None,
            "receiver": None,
            "stream_state": 0,
        }
        other = Memory()
        other.add("old")
        other.load(saved, overwrite=False)
        assert contents(other.memory) == ["old", "q", {"k": [1, 2]}]
        other.load(saved[0])
        assert contents(other.memory) == ["q"]

    def test_load_is_all_or_nothing_with_a_clear_error(self):
        memory = Memory()
        memory.add("keep")
        with pytest.raises(ValueError, match="saved message #1"):
            memory.load([{"content": "fine"}, {"sender": "no content"}])
        with pytest.raises(TypeError, match="list of message dicts"):
            memory.load("not a list")
        with pytest.raises(TypeError, match="saved message #0"):
            memory.load([42])
        assert contents(memory.memory) == ["keep"]

    def test_loaded_messages_are_independent_copies(self):
        original = msg({"nested": ["x"]})
        memory = Memory()
        memory.load([original])
        original.content["nested"].append("y")
        assert memory.memory[0].content == {"nested": ["x"]}


class TestManager:
    def test_sessions_are_created_lazily_and_isolated(self):
        manager = MemoryManager(dict(type=Memory, recent_n=2))
        assert manager.get(1) is None
        manager.add("a", session_id=1)
        manager.add(["b", "c"], session_id=1)
        manager.add("z", session_id="other")
        assert contents(manager.get_memory(1)) == ["b", "c"]
        assert contents(manager.get_memory("other")) == ["z"]
        assert manager.get(1).recent_n == 2
        manager.reset(1)
        assert manager.get(1) is None and set(manager.memory_map) == {"other"}
        manager.reset("never-existed")

    def test_missing_session_get_memory_names_the_known_sessions(self):
        manager = MemoryManager(dict(type=Memory))
        manager.add("x", session_id=5)
        with pytest.raises(KeyError, match=r"session 0.*\[5\]"):
            manager.get_memory(0)

    def test_cfg_may_be_a_class_or_a_template_instance_never_shared(self):
        by_class = MemoryManager(Memory)
        by_class.add("a", 0)
        assert isinstance(by_class.get(0), Memory)
        template = Memory(recent_n=1)
        by_instance = MemoryManager(template)
        by_instance.add("a", 0)
        by_instance.add("b", 1)
        assert by_instance.get(0) is not by_instance.get(1)
        assert by_instance.get(0).recent_n == 1 and template.memory == []

    def test_subscribers_see_every_mutation_kind(self):
        manager = MemoryManager(dict(type=Memory))
        events = []
        manager.subscribe(events.append)
        manager.add("a", session_id=1)
        manager.get(1).add("b")
        manager.get(1).delete(0)
        manager.get(1).load([{"content": "c"}])
        manager.reset(1)
        manager.get(1)  # reading is not a change
        assert [(e.session_id, e.kind) for e in events] == [
            (1, "add"),
            (1, "add"),
            (1, "delete"),
            (1, "load"),
            (1, "reset"),
        ]
        assert all(isinstance(e, MemoryEvent) and e.manager is manager for e in events)

    def test_memories_created_before_subscribing_notify_too(self):
        manager = MemoryManager(dict(type=Memory))
        manager.add("before any subscriber", session_id="early")
        events = []
        manager.subscribe(events.append)
        manager.get("early").add("b")
        manager.add("c", session_id="late")
        manager.get("early").delete(0)
        assert [(e.session_id, e.kind) for e in events] == [
            ("early", "add"),
            ("late", "add"),
            ("early", "delete"),
        ]

    def test_a_dropped_add_is_not_an_event(self):
        manager = MemoryManager(dict(type=Memory))
        events = []
        manager.subscribe(events.append)
        manager.add(None, session_id=0)
        assert events == []

    def test_unsubscribe_and_removing_twice_is_harmless(self):
        manager = MemoryManager(dict(type=Memory))
        events = []
        handle = manager.subscribe(events.append)
        manager.add("a")
        handle.remove()
        handle.remove()
        manager.add("b")
        assert len(events) == 1

    def test_a_raising_subscriber_is_logged_and_the_others_still_run(self, caplog):
        manager = MemoryManager(dict(type=Memory))
        seen = []

        def broken(event):
            raise RuntimeError("view exploded")

        manager.subscribe(broken)
        manager.subscribe(seen.append)
        with caplog.at_level(logging.ERROR, logger="lagent_nb.memory.manager"):
            manager.add("a")
        assert contents(manager.get_memory(0)) == ["a"]
        assert len(seen) == 1
        assert "view exploded" in caplog.text

    def test_deepcopy_keeps_memories_but_not_subscribers(self):
        manager = MemoryManager(dict(type=Memory))
        events = []
        manager.subscribe(events.append)
        manager.add("a", 3)
        clone = copy.deepcopy(manager)
        clone.add("b", 3)
        assert contents(clone.get_memory(3)) == ["a", "b"]
        assert contents(manager.get_memory(3)) == ["a"]
        assert len(events) == 1
        clone_events = []
        clone.subscribe(clone_events.append)
        clone.get(3).add("c")
        assert [e.manager for e in clone_events] == [clone]


def test_manager_pickles_without_its_subscribers():
    import pickle

    manager = MemoryManager(dict(type=Memory))
    manager.subscribe(lambda event: None)  # lambdas cannot be pickled: they are dropped
    manager.add("a", session_id=2)
    clone = pickle.loads(pickle.dumps(manager))
    events = []
    clone.subscribe(events.append)
    clone.get(2).add("b")
    assert contents(clone.get_memory(2)) == ["a", "b"]
    assert [(e.manager, e.session_id, e.kind) for e in events] == [(clone, 2, "add")]
