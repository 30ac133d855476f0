"""create_object, filter_suffix, get_logger."""

import functools
import logging

import pytest

from lagent_nb.memory import Memory
from lagent_nb.utils import create_object, filter_suffix, get_logger, load_class_from_string


def scale(x, factor=1):
    return x * factor


class TestCreateObject:
    def test_class_type_is_instantiated_with_the_other_keys(self):
        cfg = dict(type=Memory, recent_n=3)
        memory = create_object(cfg)
        assert isinstance(memory, Memory) and memory.recent_n == 3
        assert cfg == dict(type=Memory, recent_n=3), "the config is not consumed"

    def test_import_string_is_resolved(self):
        memory = create_object(dict(type="lagent_nb.memory.Memory", recent_n=2))
        assert type(memory) is Memory and memory.recent_n == 2

    def test_plain_callable_becomes_a_partial(self):
        bound = create_object(dict(type=scale, factor=10))
        assert isinstance(bound, functools.partial)
        assert bound(4) == 40

    def test_non_dicts_pass_through_unchanged(self):
        sentinel = object()
        assert create_object(sentinel) is sentinel
        assert create_object(None) is None
        assert create_object([1]) == [1]

    def test_errors_name_the_problem(self):
        with pytest.raises(KeyError, match="'type' key"):
            create_object(dict(recent_n=1))
        with pytest.raises(TypeError, match="class, callable or import string"):
            create_object(dict(type=42))
        with pytest.raises(ImportError, match="no attribute 'Nope'"):
            create_object(dict(type="lagent_nb.memory.Nope"))
        with pytest.raises(ValueError, match="dotted import path"):
            load_class_from_string("Memory")

    def test_load_class_with_a_temporary_path(self, tmp_path):
        (tmp_path / "core_utils_plugin_mod.py").write_text("class Thing:\n    value = 7\n")
        cls = load_class_from_string("core_utils_plugin_mod.Thing", path=str(tmp_path))
        assert cls.value == 7
        import sys

        assert str(tmp_path) not in sys.path


def test_filter_suffix_cuts_at_the_first_stop_word():
    assert filter_suffix("answer<|im_end|>junk", ["<|im_end|>"]) == "answer"
    assert filter_suffix(["a<e>b", "plain"], ["<e>"]) == ["a", "plain"]
    assert filter_suffix("x<a>y<b>", ["<b>", "<a>"]) == "x"
    assert filter_suffix("unchanged", None) == "unchanged"


def test_get_logger_reconfigures_instead_of_stacking_handlers(tmp_path):
    logger = get_logger("core-utils-test", "warning")
    get_logger("core-utils-test", "warning")
    assert logger.level == logging.WARNING and len(logger.handlers) == 1
    get_logger("core-utils-test", add_file_handler=True, log_dir=str(tmp_path), log_file="x.log")
    assert len(logger.handlers) == 2
    logger.warning("written")
    for handler in logger.handlers:
        handler.flush()
    assert "written" in (tmp_path / "x.log").read_text()
    get_logger("core-utils-test")
    assert len(logger.handlers) == 1


class TestFastDeepcopy:
    def test_json_like_data_is_copied_independently(self):
        from lagent_nb.utils import fast_deepcopy

        original = {"a": [1, {"b": (2, [3])}], "s": "text", "n": None}
        copied = fast_deepcopy(original)
        assert copied == original
        copied["a"][1]["b"][1].append(4)
        copied["a"].append(5)
        assert original == {"a": [1, {"b": (2, [3])}], "s": "text", "n": None}

    def test_cycles_and_custom_objects_fall_back_to_deepcopy(self):
        from lagent_nb.utils import fast_deepcopy

        cyclic = []
        cyclic.append(cyclic)
        copied = fast_deepcopy(cyclic)
        assert copied is not cyclic and copied[0] is copied

        class Box:
            def __init__(self):
                self.items = [1]

        box = fast_deepcopy({"box": Box()})["box"]
        assert isinstance(box, Box) and box.items == [1]

    def test_clone_message_copies_mutable_fields_and_keeps_enums(self):
        from lagent_nb.schema import AgentMessage, AgentStatusCode
        from lagent_nb.utils import clone_message

        message = AgentMessage(
            content="c",
            formatted={"status": AgentStatusCode.STREAM_ING, "action": {"x": [1]}},
            extra_info=[{"k": "v"}],
        )
        clone = clone_message(message)
        assert clone == message and clone is not message
        clone.formatted["action"]["x"].append(2)
        clone.extra_info[0]["k"] = "changed"
        assert message.formatted["action"] == {"x": [1]} and message.extra_info == [{"k": "v"}]
        assert clone.formatted["status"] is AgentStatusCode.STREAM_ING


class TestMessageBuilding:
    def test_make_message_is_agent_message_with_the_same_validation(self):
        import pydantic

        from lagent_nb.schema import AgentMessage
        from lagent_nb.utils import make_message

        built = make_message(sender="bot", content={"k": 1}, stream_state=1)
        direct = AgentMessage(sender="bot", content={"k": 1}, stream_state=1)
        assert type(built) is AgentMessage and built == direct
        assert (
            built.model_fields_set
            == direct.model_fields_set
            == {"sender", "content", "stream_state"}
        )
        assert repr(built) == repr(direct) and built.model_dump() == direct.model_dump()
        assert built.stream_state is direct.stream_state
        with pytest.raises(pydantic.ValidationError, match="sender"):
            make_message(sender=42, content="x")
        with pytest.raises(pydantic.ValidationError, match="content"):
            make_message(sender="bot")

    def test_shallow_copy_model_matches_model_copy(self):
        from lagent_nb.schema import AgentMessage
        from lagent_nb.utils.copying import shallow_copy_model

        message = AgentMessage(sender="bot", content="c", formatted={"a": [1]})
        copied = shallow_copy_model(message)
        reference = message.model_copy()
        assert copied == reference and copied is not message
        assert copied.model_fields_set == reference.model_fields_set
        assert copied.model_fields_set is not message.model_fields_set
        assert copied.formatted is message.formatted, "shallow, as model_copy()"
        copied.content = "other"
        assert message.content == "c"

    def test_subclasses_with_extra_private_or_own_fields_are_copied_deeply(self):
        from pydantic import ConfigDict, Field, PrivateAttr

        from lagent_nb.schema import AgentMessage
        from lagent_nb.utils import clone_message

        class Tagged(AgentMessage):
            model_config = ConfigDict(extra="allow")
            tags: list = Field(default_factory=list)
            _secret: list = PrivateAttr(default_factory=list)

        original = Tagged(content="c", tags=["a"], note={"n": [1]})
        original._secret.append("s")
        clone = clone_message(original)
        assert type(clone) is Tagged and clone == original
        clone.tags.append("b")
        clone._secret.append("t")
        assert original.tags == ["a"] and original._secret == ["s"]
        assert clone.note == {"n": [1]}
        clone.note = "replaced"
        assert original.note == {"n": [1]}

    def test_enum_values_are_shared_like_deepcopy_does(self):
        import copy
        from enum import Enum

        from lagent_nb.utils import fast_deepcopy

        class Colour(Enum):
            RED = "red"

        data = {"c": Colour.RED, "items": [Colour.RED]}
        copied = fast_deepcopy(data)
        assert copied["c"] is Colour.RED and copied["items"][0] is Colour.RED
        assert copied == copy.deepcopy(data) and copied["items"] is not data["items"]
