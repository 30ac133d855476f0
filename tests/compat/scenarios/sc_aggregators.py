"""Aggregators: Default, InternLMTool (with few-shot) and the README's FewshotAggregator."""

from __future__ import annotations

import copy
from typing import List, Union

from _common import main, mod, outcome, run_cases


def run(pkg: str) -> dict:
    agg = mod(pkg, "agents.aggregator")
    memory_mod = mod(pkg, "memory")
    prompts = mod(pkg, "prompts")
    schema = mod(pkg, "schema")
    Msg = schema.AgentMessage

    def memory_of(*messages):
        mem = memory_mod.Memory()
        mem.add(list(messages))
        return mem

    chat = memory_of(
        Msg(content="hello ", sender="user"),
        Msg(content="world", sender="other"),
        Msg(content={"k": 1}, sender="bot"),
        Msg(content="next", sender="user"),
    )

    def default():
        a = agg.DefaultAggregator()
        return {
            "no_template": a.aggregate(chat, "bot"),
            "str": a.aggregate(chat, "bot", None, "be brief"),
            "dict": a.aggregate(chat, "bot", None, {"role": "system", "content": "d"}),
            "list": a.aggregate(
                chat,
                "bot",
                None,
                [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}],
            ),
            "bad_item": outcome(lambda: a.aggregate(chat, "bot", None, ["x"]), message=False),
            "missing_key": outcome(
                lambda: a.aggregate(chat, "bot", None, [{"role": "system"}]), message=False
            ),
        }

    def default_leaves_template_alone():
        template = [{"role": "system", "content": "s"}, {"role": "user", "content": "shot"}]
        before = copy.deepcopy(template)
        agg.DefaultAggregator().aggregate(
            memory_of(Msg(content=" + mine", sender="user")), "bot", None, template
        )
        return {"before": before, "after": template}

    mixed = prompts.MixedToolParser(
        template="Tools below.",
        parsers=[
            dict(type=prompts.PluginParser, template="plugins: {tools}", tools="[search]"),
            dict(type=prompts.InterpreterParser, template="python here"),
        ],
    )

    def internlm_tool():
        few_shot = [
            [
                {"role": "user", "content": "compute"},
                {"role": "thought", "content": "I will run code"},
                {"role": "tool", "content": "print(1)", "name": "interpreter"},
                {"role": "environment", "content": "1", "name": "interpreter"},
                {"role": "language", "content": "The answer is 1"},
            ]
        ]
        a = agg.InternLMToolAggregator(
            environment_begin="<env>", environment_end="</env>", few_shot=few_shot
        )
        raw = (
            'Let me search<|action_start|><|plugin|>\n{"name": "s", "parameters": {}}'
            "<|action_end|>\n"
        )
        bad = "oops<|action_start|><|plugin|>\nnot json<|action_end|>\n"
        mem = memory_of(
            Msg(content="question", sender="user"),
            Msg(content=raw, sender="bot", formatted=mixed.parse_response(raw)),
            Msg(content="search result", sender="ActionExecutor"),
            Msg(content=bad, sender="bot", formatted=mixed.parse_response(bad)),
            Msg(content="plain text from bot", sender="bot"),
            Msg(content="from a friend", sender="friend"),
        )
        return {
            "mixed": a.aggregate(mem, "bot", mixed, "SYSTEM"),
            "few_shot_after": few_shot,
            "user_names": agg.InternLMToolAggregator(user_names=["user", "friend"]).aggregate(
                mem, "bot", mixed
            ),
            "single_parser": agg.InternLMToolAggregator().aggregate(
                memory_of(Msg(content="q", sender="user")),
                "bot",
                prompts.InterpreterParser(template="run python"),
            ),
            "unknown_role": outcome(
                lambda: agg.InternLMToolAggregator(
                    few_shot=[[{"role": "alien", "content": "?"}]]
                ).aggregate(memory_of(), "bot", mixed),
                message=False,
            ),
        }

    class FewshotAggregator(agg.DefaultAggregator):
        """Verbatim shape of the README example."""

        def __init__(self, few_shot: List[dict] = None):  # noqa: RUF013 (README code)
            self.few_shot = few_shot or []

        def aggregate(
            self,
            messages,
            name: str,
            parser=None,
            system_instruction: Union[str, dict, List[dict]] = None,  # noqa: RUF013
        ):
            _message = []
            if system_instruction:
                _message.extend(self.aggregate_system_intruction(system_instruction))
            _message.extend(self.few_shot)
            messages = messages.get_memory()
            for message in messages:
                if message.sender == name:
                    _message.append(dict(role="assistant", content=str(message.content)))
                else:
                    user_message = message.content
                    if len(_message) > 0 and _message[-1]["role"] == "user":
                        _message[-1]["content"] += user_message
                    else:
                        _message.append(dict(role="user", content=user_message))
            return _message

    def fewshot_subclass():
        agents = mod(pkg, "agents")
        from _common import scripted_llm

        llm = scripted_llm(pkg, ["【多云】"])
        agent = agents.Agent(
            llm,
            aggregator=FewshotAggregator(
                [
                    {"role": "user", "content": "今天天气"},
                    {"role": "assistant", "content": "【晴】"},
                ]
            ),
        )
        reply = agent(Msg(sender="user", content="昨天天气"))
        return {"reply": reply, "prompts": llm.script.calls}

    return run_cases(
        {
            "default": default,
            "default_leaves_template_alone": default_leaves_template_alone,
            "internlm_tool": internlm_tool,
            "fewshot_subclass": fewshot_subclass,
        }
    )


if __name__ == "__main__":
    main(run)
