"""Streaming agents: the chunk sequence (content, state, formatted) and what memory keeps."""

from __future__ import annotations

import asyncio

from _common import main, mod, run_cases, scripted_llm


def run(pkg: str) -> dict:
    agents = mod(pkg, "agents")
    prompts = mod(pkg, "prompts")
    hooks = mod(pkg, "hooks")

    class Tag(hooks.Hook):
        def after_agent(self, agent, message, session_id):
            return message.model_copy(update={"content": message.content + " [tagged]"})

    def chunks(messages):
        """All chunks, plus the two views that must match even where END is yielded once."""
        rows = [[m.content, m.stream_state, m.formatted, m.sender] for m in messages]
        return {
            "all": rows,
            "streaming": [r for r in rows if r[1] != 0],
            "last": rows[-1] if rows else None,
            "first_end": next((r for r in rows if r[1] == 0), None),
        }

    def sync_plain():
        llm = scripted_llm(pkg, ["streamed reply text"], chunk=5)
        agent = agents.StreamingAgent(llm, "sys", name="s", hooks=[Tag()])
        out = list(agent("hello", session_id=2))
        return {
            "chunks": chunks(out),
            "memory": agent.state_dict(session_id=2),
            "calls": llm.script.calls,
        }

    def sync_parsed():
        llm = scripted_llm(pkg, ["think<tool>\nx=1\n</tool>\n"], chunk=6)
        parser = prompts.ToolParser("python")
        agent = agents.StreamingAgent(llm, output_format=parser)
        out = list(agent("q"))
        return {"chunks": chunks(out), "memory": agent.state_dict()}

    def async_plain():
        llm = scripted_llm(pkg, ["async streamed"], asynchronous=True, chunk=5)
        agent = agents.AsyncStreamingAgent(llm, "sys", name="as")

        async def go():
            return [m async for m in agent("hi", session_id=1)]

        out = asyncio.run(go())
        return {
            "chunks": chunks(out),
            "memory": agent.state_dict(session_id=1),
            "calls": llm.script.calls,
        }

    def sequential():
        a = agents.StreamingAgent(scripted_llm(pkg, ["first!"], chunk=3), name="a")
        b = agents.StreamingAgent(scripted_llm(pkg, ["second"], chunk=3), name="b")
        seq = agents.StreamingSequential(a, b)
        out = list(seq("go"))
        return {"chunks": chunks(out), "sd": seq.state_dict()}

    return run_cases(
        {
            "sync_plain": sync_plain,
            "sync_parsed": sync_parsed,
            "async_plain": async_plain,
            "sequential": sequential,
        }
    )


if __name__ == "__main__":
    main(run)
