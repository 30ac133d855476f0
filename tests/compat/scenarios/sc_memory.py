"""Memory and MemoryManager operations."""

from __future__ import annotations

from _common import main, mod, outcome, run_cases


def run(pkg: str) -> dict:
    memory_mod = mod(pkg, "memory")
    schema = mod(pkg, "schema")
    Memory = memory_mod.Memory

    def filled(**kw):
        mem = Memory(**kw)
        mem.add("u0")
        mem.add(schema.AgentMessage(content="a1", sender="bot"))
        mem.add(["u2", schema.AgentMessage(content="a3", sender="bot")])
        mem.add(("u4",))
        mem.add(42)
        mem.add(None)
        mem.add({"content": "dict is dropped"})
        return mem

    def contents(messages):
        return [m.content for m in messages]

    def gets():
        mem = filled()
        odd = lambda i, m: i % 2 == 1  # noqa: E731
        return {
            "all": mem.save(),
            "recent_2": contents(mem.get_memory(recent_n=2)),
            "filter": contents(mem.get_memory(filter_func=odd)),
            "recent_and_filter": contents(mem.get_memory(recent_n=3, filter_func=odd)),
            "by_sender": contents(mem.get_memory(filter_func=lambda i, m: m.sender == "bot")),
            "default_recent": contents(filled(recent_n=2).get_memory()),
            "recent_zero": contents(filled(recent_n=2).get_memory(recent_n=0)),
        }

    def deletes():
        mem = filled()
        mem.delete(0)
        after_one = contents(mem.get_memory())
        mem.delete([0, 1])
        return {"after_one": after_one, "after_list": contents(mem.get_memory())}

    def loads():
        mem = filled()
        saved = mem.save()
        other = Memory()
        other.load(saved)
        other.load({"content": "appended", "sender": "x"}, overwrite=False)
        replaced = Memory()
        replaced.add("old")
        replaced.load([{"content": "new"}])
        return {
            "loaded": other.save(),
            "replaced": replaced.save(),
            "bad_type": outcome(lambda: Memory().load("text"), message=False),
        }

    def manager():
        mgr = memory_mod.MemoryManager(dict(type=Memory, recent_n=1))
        mgr.add("a", session_id=1)
        mgr.add(["b", "c"], session_id=1)
        out = {
            "sessions": sorted(mgr.memory_map),
            "get_missing": mgr.get(7) is None,
            "get_memory": contents(mgr.get_memory(1)),
            "get_memory_recent": contents(mgr.get_memory(1, recent_n=2)),
            "get_memory_missing": outcome(lambda: mgr.get_memory(7), message=False),
        }
        mgr.reset(1)
        mgr.reset(99)
        out["after_reset"] = sorted(mgr.memory_map)
        return out

    def rich_contents():
        """What save() keeps for non-text contents, type names included (jsonable hides them)."""
        mem = Memory()
        mem.add(
            schema.AgentMessage(
                content=schema.ActionReturn(result=[{"type": "text", "content": "r"}]),
                sender="tool",
            )
        )
        mem.add(
            schema.AgentMessage(
                content=schema.FunctionCall(name="f", parameters={"a": 1}), sender="bot"
            )
        )
        mem.add(
            schema.AgentMessage(
                content=["a", 1], sender="bot", stream_state=schema.AgentStatusCode.CODING
            )
        )
        saved = mem.save()
        return {
            "types": [
                [type(m["content"]).__name__, type(m["stream_state"]).__name__] for m in saved
            ],
            "saved": saved,
        }

    return run_cases(
        {
            "gets": gets,
            "deletes": deletes,
            "loads": loads,
            "manager": manager,
            "rich_contents": rich_contents,
        }
    )


if __name__ == "__main__":
    main(run)
