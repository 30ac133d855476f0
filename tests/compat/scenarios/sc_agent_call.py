"""Agent.__call__: hook order, memory before/after hooks, prompts the LLM receives, async twin."""

from __future__ import annotations

import asyncio

from _common import main, mod, outcome, run_cases, scripted_llm


def run(pkg: str) -> dict:
    agents = mod(pkg, "agents")
    hooks = mod(pkg, "hooks")
    schema = mod(pkg, "schema")
    trace = []

    class Recorder(hooks.Hook):
        def __init__(self, tag):
            self.tag = tag

        def before_agent(self, agent, messages, session_id):
            trace.append(
                ["before", self.tag, agent.name, [m.content for m in messages], session_id]
            )

        def after_agent(self, agent, message, session_id):
            trace.append(["after", self.tag, agent.name, message.content, session_id])

    class Shout(hooks.Hook):
        def before_agent(self, agent, messages, session_id):
            return [m.model_copy(update={"content": str(m.content).upper()}) for m in messages]

        def after_agent(self, agent, message, session_id):
            return message.model_copy(update={"content": message.content + "!"})

    def hook_order():
        trace.clear()
        llm = scripted_llm(pkg, ["a1", "a2"])
        agent = agents.Agent(
            llm, "sys", name="bot", hooks=[Recorder("h1"), Shout(), Recorder("h2")]
        )
        reply = agent("hello", session_id=5)
        handle = agent.register_hook(Recorder("late"))
        agent("again", session_id=5)
        handle.remove()
        return {
            "reply": reply,
            "trace": list(trace),
            "memory": agent.state_dict(session_id=5),
            "prompts": llm.script.calls,
        }

    def double_remove():
        agent = agents.Agent(scripted_llm(pkg, []))
        handle = agent.register_hook(Recorder("x"))
        handle.remove()
        return outcome(handle.remove, message=False)

    def caller_message_untouched():
        agent = agents.Agent(scripted_llm(pkg, ["ok"]), hooks=[Shout()])
        original = schema.AgentMessage(content="keep me", sender="user")
        agent(original)
        return original

    def call_kwargs_and_several_messages():
        llm = scripted_llm(pkg, ["r1", "r2"], max_new_tokens=7, stop_words="<stop>")
        agent = agents.Agent(llm, [{"role": "system", "content": "S"}])
        agent(
            schema.AgentMessage(content="one", sender="u1"),
            schema.AgentMessage(content="two", sender="u2"),
            temperature=0.1,
        )
        agent("three", stop_words=["x"])
        return {"prompts": llm.script.calls, "gen_params": llm.gen_params, "sd": agent.state_dict()}

    def non_message_forward():
        class Echo(agents.Agent):
            def forward(self, *message, session_id=0, **kwargs):
                return {"echo": [m.content for m in message]}

        echo = Echo(name="echo")
        return {"reply": echo("a", "b"), "sd": echo.state_dict()}

    def defaults():
        agent = agents.Agent()
        return {
            "name": agent.name,
            "repr": repr(agent),
            "no_memory_forward": outcome(
                lambda: agents.Agent(scripted_llm(pkg, ["x"]), memory=None)("hi"), message=False
            ),
        }

    def async_agent():
        llm = scripted_llm(pkg, ["w0", "w1", "w2"], asynchronous=True)
        agent = agents.AsyncAgent(llm, "sys", name="aw")

        async def go():
            first = await agent("s1", session_id=1)
            second = await agent("s2", session_id=2)
            return first, second

        first, second = asyncio.run(go())
        return {
            "replies": [first, second],
            "sd1": agent.state_dict(session_id=1),
            "sd2": agent.state_dict(session_id=2),
            "prompts": llm.script.calls,
        }

    return run_cases(
        {
            "hook_order": hook_order,
            "double_remove": double_remove,
            "caller_message_untouched": caller_message_untouched,
            "call_kwargs_and_several_messages": call_kwargs_and_several_messages,
            "non_message_forward": non_message_forward,
            "defaults": defaults,
            "async_agent": async_agent,
        }
    )


if __name__ == "__main__":
    main(run)
