"""ReAct and AgentForInternLM loops driven by scripted replies."""

from __future__ import annotations

import json
import warnings
from typing import Dict

from _common import main, mod, outcome, run_cases, scripted_llm


def run(pkg: str) -> dict:
    agents = mod(pkg, "agents")
    actions = mod(pkg, "actions")
    prompts = mod(pkg, "prompts")
    schema = mod(pkg, "schema")
    from pydantic import BaseModel, Field

    class Weather(actions.BaseAction):
        """Weather lookups."""

        @actions.tool_api
        def run(self, city: str):
            """Current weather.

            Args:
                city (str): the city
            """
            return {"city": city, "sky": "sunny"}

    class Call(BaseModel):
        name: str = Field(description="tool")
        parameters: Dict = Field(description="arguments")

    class Act(BaseModel):
        thought: str = Field(description="reasoning")
        action: Call = Field(description="call")

    class Finish(BaseModel):
        thought: str = Field(description="reasoning")
        conclusion: str = Field(description="answer")

    def react():
        replies = [
            json.dumps(
                {
                    "thought": "look it up",
                    "action": {"name": "Weather", "parameters": {"city": "Oslo"}},
                }
            ),
            json.dumps({"thought": "done", "conclusion": "sunny in Oslo"}),
        ]
        llm = scripted_llm(pkg, replies)
        agent = agents.ReAct(
            llm=llm,
            actions=[Weather()],
            template=prompts.PromptTemplate("Tools: {action_info}\nFormat: {output_format}"),
            output_format=prompts.JSONParser("{act} | {finish}", act=Act, finish=Finish),
        )
        reply = agent("weather in Oslo?")
        return {
            "reply": reply,
            "sd": agent.state_dict(),
            "prompts": llm.script.calls,
            "repr": repr(agent),
        }

    def react_max_turn():
        step = json.dumps(
            {"thought": "again", "action": {"name": "Weather", "parameters": {"city": "X"}}}
        )
        llm = scripted_llm(pkg, [step, step])
        agent = agents.ReAct(
            llm=llm,
            actions=[Weather()],
            template=prompts.PromptTemplate("{action_info} {output_format}"),
            output_format=prompts.JSONParser("{act}|{finish}", act=Act, finish=Finish),
            max_turn=2,
        )
        return {"reply": agent("loop"), "n_prompts": len(llm.script.calls)}

    def internlm():
        call = json.dumps({"name": "Weather", "parameters": {"city": "Rome"}})
        replies = [
            f"Checking<|action_start|><|plugin|>\n{call}<|action_end|>\n",
            "It is sunny in Rome.",
        ]
        llm = scripted_llm(pkg, replies)
        agent = agents.AgentForInternLM(
            llm,
            plugins=[Weather()],
            output_format=dict(
                type=prompts.MixedToolParser,
                template="tools follow",
                parsers=[
                    dict(type=prompts.PluginParser, template="plugins: {prompt}", prompt="Weather")
                ],
            ),
        )
        reply = agent("weather in Rome?", session_id=1)
        return {
            "reply": reply,
            "sd": agent.state_dict(session_id=1),
            "steps": agent.get_steps(session_id=1),
            "prompts": llm.script.calls,
        }

    def internlm_default_format_needs_prompt():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return outcome(lambda: agents.AgentForInternLM(scripted_llm(pkg, [])), message=False)

    def internlm_missing_executor():
        llm = scripted_llm(pkg, ["x<|action_start|><|interpreter|>\nprint(1)<|action_end|>\n"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agent = agents.AgentForInternLM(
                llm,
                output_format=dict(
                    type=prompts.MixedToolParser, parsers=[dict(type=prompts.InterpreterParser)]
                ),
            )
        return outcome(lambda: agent("run"), message=False)

    def executor_message_shapes():
        ex = actions.ActionExecutor(
            [Weather()], hooks=[mod(pkg, "hooks").InternLMActionProcessor()]
        )
        msg = schema.AgentMessage(
            sender="a",
            content="...",
            formatted={
                "tool_type": "plugin",
                "thought": "t",
                "action": {"name": "Weather", "parameters": {"city": "P"}},
                "status": 1,
            },
        )
        return ex(msg)

    def async_twins():
        import asyncio

        step = json.dumps(
            {"thought": "look", "action": {"name": "Weather", "parameters": {"city": "Oslo"}}}
        )
        done = json.dumps({"thought": "ok", "conclusion": "sunny"})
        react_llm = scripted_llm(pkg, [step, done], asynchronous=True)
        react_agent = agents.AsyncReAct(
            llm=react_llm,
            actions=[Weather()],
            template=prompts.PromptTemplate("{action_info} {output_format}"),
            output_format=prompts.JSONParser("{act}|{finish}", act=Act, finish=Finish),
        )
        call = json.dumps({"name": "Weather", "parameters": {"city": "Rome"}})
        internlm_llm = scripted_llm(
            pkg,
            [f"go<|action_start|><|plugin|>\n{call}<|action_end|>\n", "done"],
            asynchronous=True,
        )
        internlm_agent = agents.AsyncAgentForInternLM(
            internlm_llm,
            plugins=[Weather()],
            output_format=dict(
                type=prompts.MixedToolParser, parsers=[dict(type=prompts.PluginParser)]
            ),
        )

        async def go():
            return await react_agent("q", session_id=3), await internlm_agent("r", session_id=4)

        react_reply, internlm_reply = asyncio.run(go())
        return {
            "react": react_reply,
            "react_sd": react_agent.state_dict(session_id=3),
            "internlm": internlm_reply,
            "internlm_sd": internlm_agent.state_dict(session_id=4),
            "internlm_steps": internlm_agent.get_steps(session_id=4),
            "prompts": react_llm.script.calls + internlm_llm.script.calls,
        }

    return run_cases(
        {
            "async_twins": async_twins,
            "react": react,
            "react_max_turn": react_max_turn,
            "internlm": internlm,
            "internlm_default_format_needs_prompt": internlm_default_format_needs_prompt,
            "internlm_missing_executor": internlm_missing_executor,
            "executor_message_shapes": executor_message_shapes,
        }
    )


if __name__ == "__main__":
    main(run)
