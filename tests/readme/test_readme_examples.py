"""lagent's README examples, with ``lagent`` replaced by ``lagent_nb`` in the imports.

Apart from the imports, the example code is kept as in the README, because the README's promise
is that lagent code runs unchanged. Only the models differ: ``VllmModel`` is bound to a scripted
stand-in (see ``conftest.vllm_standin``), and ``AsyncGPTAPI`` talks to a loopback OpenAI-compatible
server. Each test checks the behaviour the README shows: printed messages, memory, the prompts
the model received, tool results, and session isolation.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Dict, List, Union

import pytest

from lagent_nb.actions import ActionExecutor
from lagent_nb.agents import Agent, AsyncAgent
from lagent_nb.agents.aggregator import DefaultAggregator, InternLMToolAggregator
from lagent_nb.hooks import Hook
from lagent_nb.llms import INTERNLM2_META
from lagent_nb.memory import Memory
from lagent_nb.prompts import StrParser
from lagent_nb.prompts.parsers import ToolParser
from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage
from lagent_nb.testing import ScriptedLLM

# The README's CodeProcessor calls pydantic's deprecated ``copy(deep=True)``; it still works.
pytestmark = pytest.mark.filterwarnings("ignore:The `copy` method is deprecated")

END_REPR = (
    "formatted=None extra_info=None type=None receiver=None stream_state=<AgentStatusCode.END: 0>"
)
SYSTEM_PROMPT = "你的回答只能从“典”、“孝”、“急”三个字中选一个。"

# The code of the README's ToolParser / ActionExecutor examples, with its line breaks restored.
FIND_NUMBERS = """def find_numbers():
    # 正因数
    positive_factors = [1, 3, 7, 9, 21, 63]
    # 负因数
    negative_factors = [-1, -3, -7, -9, -21, -63]

    # 找到与正因数相乘的结果为63的数
    positive_numbers = [63 / factor for factor in positive_factors]
    # 找到与负因数相乘的结果为63的数
    negative_numbers = [-63 / factor for factor in negative_factors]

    # 计算两个数的乘积
    product = positive_numbers[0] * negative_numbers[0]

    return product

result = find_numbers()
print(result)"""


# --- "Agents use AgentMessage for communication" ----------------------------------------------


@pytest.fixture
def weather(vllm_standin):
    """The README's first agent after its first turn: (agent, llm, printed bot_msg)."""
    VllmModel = vllm_standin(["急"])
    llm = VllmModel(
        path="Qwen/Qwen2-7B-Instruct",
        meta_template=INTERNLM2_META,
        tp=1,
        top_k=1,
        temperature=1.0,
        stop_words=["<|im_end|>"],
        max_new_tokens=1024,
    )
    system_prompt = SYSTEM_PROMPT
    agent = Agent(llm, system_prompt)
    user_msg = AgentMessage(sender="user", content="今天天气情况")
    bot_msg = agent(user_msg)
    return agent, llm, bot_msg


def test_simple_agent_replies_and_prints_like_lagent(weather, capsys):
    _agent, llm, bot_msg = weather
    print(bot_msg)
    assert capsys.readouterr().out == f"content='急' sender='Agent' {END_REPR}\n"
    # The model saw the system prompt and the question in INTERNLM2's chat format...
    assert llm.prompts == [
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\n今天天气情况<|im_end|>\n<|im_start|>assistant\n"
    ]
    # ...with the generation settings given to the model wrapper.
    sent = llm.gen_params_log[0]
    assert (sent["top_k"], sent["temperature"], sent["max_new_tokens"]) == (1, 1.0, 1024)
    assert sent["stop_words"] == ["<|im_end|>"]


def test_memory_inspected_two_ways(weather, capsys):
    agent, _, _ = weather
    memory: List[AgentMessage] = agent.memory.get_memory()
    print(memory)
    print("-" * 120)
    dumped_memory: Dict[str, List[dict]] = agent.state_dict()
    print(dumped_memory["memory"])
    tail = "formatted=None, extra_info=None, type=None, receiver=None, "
    tail += "stream_state=<AgentStatusCode.END: 0>"
    user_repr = f"content='今天天气情况', sender='user', {tail}"
    bot_repr = f"content='急', sender='Agent', {tail}"
    dumped = (
        "{{'content': '{}', 'sender': '{}', 'formatted': None, 'extra_info': None, "
        "'type': None, 'receiver': None, 'stream_state': <AgentStatusCode.END: 0>}}"
    )
    assert capsys.readouterr().out.splitlines() == [
        f"[AgentMessage({user_repr}), AgentMessage({bot_repr})]",
        "-" * 120,
        "[" + dumped.format("今天天气情况", "user") + ", " + dumped.format("急", "Agent") + "]",
    ]


def test_reset_clears_the_session(weather):
    agent, llm, _ = weather
    agent.reset()
    assert agent.memory.get(0) is None
    with pytest.warns(UserWarning):  # lagent warns when dumping a session that does not exist
        assert agent.state_dict() == {"memory": []}
    # A new turn starts from an empty conversation.
    llm.replies.append("典")
    agent(AgentMessage(sender="user", content="再来"))
    assert [m.content for m in agent.memory.get_memory()] == ["再来", "典"]


# --- "Implement a simple aggregator that can receive few-shots" -------------------------------


class FewshotAggregator(DefaultAggregator):
    def __init__(self, few_shot: List[dict] = None):  # noqa: RUF013 (README code)
        self.few_shot = few_shot or []

    def aggregate(
        self,
        messages: Memory,
        name: str,
        parser: StrParser = None,
        system_instruction: Union[str, dict, List[dict]] = None,  # noqa: RUF013
    ) -> List[dict]:
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


def test_fewshot_aggregator_subclass_sends_the_shots(capsys):
    llm = ScriptedLLM(["【多云转晴,夜间有轻微降温】"], meta_template=INTERNLM2_META)
    agent = Agent(
        llm,
        aggregator=FewshotAggregator(
            [
                {"role": "user", "content": "今天天气"},
                {"role": "assistant", "content": "【晴】"},
            ]
        ),
    )
    user_msg = AgentMessage(sender="user", content="昨天天气")
    bot_msg = agent(user_msg)
    print(bot_msg)
    assert (
        capsys.readouterr().out
        == f"content='【多云转晴,夜间有轻微降温】' sender='Agent' {END_REPR}\n"
    )
    assert llm.calls == [
        [
            {"role": "user", "content": "今天天气"},
            {"role": "assistant", "content": "【晴】"},
            {"role": "user", "content": "昨天天气"},
        ]
    ]


# --- "Use a tool parser as follows" ------------------------------------------------------------


def test_tool_parser_fills_formatted(weather, capsys):
    _, llm, _ = weather
    thought = "首先,我们需要找出63的所有正因数和负因数。\n\n下面是Python代码实现:\n\n"
    # The model goes on after the code block; the stop word added below cuts it there.
    llm.replies.append(thought + "```python\n" + FIND_NUMBERS + "\n```\n" + "执行结果是……")

    system_prompt = "逐步分析并编写Python代码解决以下问题。"
    parser = ToolParser(tool_type="code interpreter", begin="```python\n", end="\n```\n")
    llm.gen_params["stop_words"].append("\n```\n")
    agent = Agent(llm, system_prompt, output_format=parser)
    user_msg = AgentMessage(
        sender="user",
        content="Marie is thinking of a multiple of 63, while Jay is thinking of a "
        "factor of 63. They happen to be thinking of the same number. There are "
        "two possibilities for the number that each of them is thinking of, one "
        "positive and one negative. Find the product of these two numbers.",
    )
    bot_msg = agent(user_msg)
    print(bot_msg.model_dump_json(indent=4))

    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "content": thought + "```python\n" + FIND_NUMBERS,
        "sender": "Agent",
        "formatted": {
            "tool_type": "code interpreter",
            "thought": thought,
            "action": FIND_NUMBERS,
            "status": 1,
        },
        "extra_info": None,
        "type": None,
        "receiver": None,
        "stream_state": 0,
    }
    assert llm.gen_params_log[-1]["stop_words"] == ["<|im_end|>", "\n```\n"]


# --- "ActionExecutor ... register custom hooks" ------------------------------------------------


class CodeProcessor(Hook):
    def before_action(self, executor, message, session_id):
        message = message.copy(deep=True)
        message.content = dict(
            name="IPythonInteractive", parameters={"command": message.formatted["action"]}
        )
        return message

    def after_action(self, executor, message, session_id):
        action_return = message.content
        if isinstance(action_return, ActionReturn):
            if action_return.state == ActionStatusCode.SUCCESS:
                response = action_return.format_result()
            else:
                response = action_return.errmsg
        else:
            response = action_return
        message.content = response
        return message


@pytest.fixture
def ipython():
    """``IPythonInteractive`` runs code in a real sibling kernel, stopped after the test."""
    from lagent_nb.actions import IPythonInteractive

    action = IPythonInteractive()
    yield action
    action.close_session(0)


@pytest.mark.slow
def test_action_executor_with_code_processor(ipython, capsys):
    IPythonInteractive = lambda: ipython  # noqa: E731 (the README builds a fresh one here)
    executor = ActionExecutor(actions=[IPythonInteractive()], hooks=[CodeProcessor()])
    bot_msg = AgentMessage(
        sender="Agent",
        content="首先,我们需要...",
        formatted={
            "tool_type": "code interpreter",
            "thought": "首先,我们需要...",
            "action": FIND_NUMBERS,
            "status": 1,
        },
    )
    executor_msg = executor(bot_msg)
    print(executor_msg)
    assert capsys.readouterr().out == f"content='3969.0' sender='ActionExecutor' {END_REPR}\n"

    # A failing program reaches the LLM as the error text (the hook's non-SUCCESS branch).
    failing = bot_msg.model_copy(update={"formatted": {**bot_msg.formatted, "action": "1 / 0"}})
    assert "ZeroDivisionError" in executor(failing).content


# --- "Lagent adopts a dual interface design" ---------------------------------------------------

DUAL_INTERFACE = {
    "lagent_nb.llms": ["VllmModel", "AsyncVllmModel", "LMDeployPipeline", "AsyncLMDeployPipeline"],
    "lagent_nb.actions": ["ActionExecutor", "AsyncActionExecutor", "WebBrowser", "AsyncWebBrowser"],
    "lagent_nb.agents": ["Agent", "AsyncAgent", "AgentForInternLM", "AsyncAgentForInternLM"],
}


@pytest.mark.parametrize("module", sorted(DUAL_INTERFACE))
def test_dual_interface_imports(module):
    """``from lagent_nb.<module> import <sync>, <Async twin>`` as the README lists them.

    Importing must not need the optional backends (vLLM, LMDeploy): only using them does.
    """
    import importlib

    package = importlib.import_module(module)
    missing = []
    for name in DUAL_INTERFACE[module]:
        try:
            getattr(package, name)
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("lagent_nb."):
                raise  # an optional third-party backend imported too early is a failure
            missing.append(f"{name} ({exc.name})")
    if missing:
        pytest.skip(f"not written yet: {', '.join(missing)}")


# --- "Math agents that solve problems by programming" ------------------------------------------


@pytest.mark.slow
def test_coder_math_agent(vllm_standin, ipython, capsys):
    replies = [
        "Let me compute it.\n```python\nimport numpy as np\nb = np.array([1, -3])\n"
        "print((2 / b.dot(b)) * b)\n```\n",
        "The projection is $\\begin{pmatrix} 1/5 \\\\ -3/5 \\end{pmatrix}$.",
    ]
    VllmModel = vllm_standin(replies)
    IPythonInteractive = lambda: ipython  # noqa: E731

    class Coder(Agent):
        def __init__(self, model_path, system_prompt, max_turn=3):
            super().__init__()
            llm = VllmModel(
                path=model_path,
                meta_template=INTERNLM2_META,
                tp=1,
                top_k=1,
                temperature=1.0,
                stop_words=["\n```\n", "<|im_end|>"],
                max_new_tokens=1024,
            )
            self.agent = Agent(
                llm,
                system_prompt,
                output_format=ToolParser(
                    tool_type="code interpreter", begin="```python\n", end="\n```\n"
                ),
                # `InternLMToolAggregator` is adapted to `ToolParser` for aggregating
                # messages with tool invocations and execution results
                aggregator=InternLMToolAggregator(),
            )
            self.executor = ActionExecutor([IPythonInteractive()], hooks=[CodeProcessor()])
            self.max_turn = max_turn

        def forward(self, message: AgentMessage, session_id=0) -> AgentMessage:
            for _ in range(self.max_turn):
                message = self.agent(message, session_id=session_id)
                if message.formatted["tool_type"] is None:
                    return message
                message = self.executor(message, session_id=session_id)
            return message

    coder = Coder(
        "Qwen/Qwen2-7B-Instruct", "Solve the problem step by step with assistance of Python code"
    )
    query = AgentMessage(
        sender="user",
        content="Find the projection of $\\mathbf{a}$ onto $\\mathbf{b} = "
        "\\begin{pmatrix} 1 \\\\ -3 \\end{pmatrix}$ if $\\mathbf{a} \\cdot \\mathbf{b} = 2.$",
    )
    answer = coder(query)
    print(answer.content)
    print("-" * 120)
    for msg in coder.state_dict()["agent.memory"]:
        print("*" * 80)
        print(f"{msg['sender']}:\n\n{msg['content']}")

    out = capsys.readouterr().out
    assert out.startswith(replies[1] + "\n" + "-" * 120 + "\n")
    memory = coder.state_dict()["agent.memory"]
    assert [m["sender"] for m in memory] == ["user", "Agent", "ActionExecutor", "Agent"]
    assert re.fullmatch(r"\[\s*0\.2\s+-0\.6\s*\]", memory[2]["content"].strip())
    assert memory[1]["formatted"]["status"] == 1 and memory[3]["formatted"]["tool_type"] is None
    # The second prompt shows the code as an assistant turn and its output as the environment.
    second = coder.agent.llm.prompts[1]
    assert "```python\nimport numpy as np" in second
    assert "<|im_start|>environment name=code interpreter\n" + memory[2]["content"] in second
    assert set(coder.state_dict()) == {"memory", "agent.memory"}


# --- "Asynchronous blogging agents" ------------------------------------------------------------


class PrefixedMessageHook(Hook):
    def __init__(self, prefix: str, senders: list = None):  # noqa: RUF013 (README code)
        self.prefix = prefix
        self.senders = senders or []

    def before_agent(self, agent, messages, session_id):
        for message in messages:
            if message.sender in self.senders:
                message.content = self.prefix + message.content


WRITER_PROMPT = (
    "You are an writing assistant tasked to write engaging blogpost. You try to generate the "
    "best blogpost possible for the user's request. If the user provides critique, then respond "
    "with a revised version of your previous attempts"
)
CRITIC_PROMPT = (
    "Generate critique and recommendations on the writing. Provide detailed recommendations, "
    "including requests for length, depth, style, etc.."
)
CRITIC_PREFIX = "Reflect and provide critique on the following writing. \n\n"
TOPICS = ["AI", "Biotechnology", "New Energy", "Video Games", "Pop Music"]


def blog_server_reply(body: dict) -> str:
    """The loopback model: who is asking (system prompt), about what topic, at which round."""
    messages = body["messages"]
    topic = re.search(r"\[topic=(.+?)\]", json.dumps(messages)).group(1)
    rounds = sum(m["role"] == "assistant" for m in messages)
    role = "writer" if messages[0]["content"].startswith("You are an writing") else "critic"
    return f"{role} on {topic} [topic={topic}] round {rounds}"


@pytest.mark.slow
def test_async_blogger_five_sessions(monkeypatch, fresh_event_loop, capsys):
    from lagent_nb.llms import AsyncGPTAPI
    from lagent_nb.testing.openai_server import OpenAIServer

    class AsyncBlogger(AsyncAgent):
        def __init__(self, model_path, writer_prompt, critic_prompt, critic_prefix="", max_turn=3):
            super().__init__()
            llm = AsyncGPTAPI(model_type=model_path, retry=5, max_new_tokens=2048)
            self.writer = AsyncAgent(llm, writer_prompt, name="writer")
            self.critic = AsyncAgent(
                llm,
                critic_prompt,
                name="critic",
                hooks=[PrefixedMessageHook(critic_prefix, ["writer"])],
            )
            self.max_turn = max_turn

        async def forward(self, message: AgentMessage, session_id=0) -> AgentMessage:
            for _ in range(self.max_turn):
                message = await self.writer(message, session_id=session_id)
                message = await self.critic(message, session_id=session_id)
            return await self.writer(message, session_id=session_id)

    with OpenAIServer(blog_server_reply, delay=0.05) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "placeholder")  # so the README's line is undone
        os.environ["OPENAI_API_KEY"] = "YOUR_API_KEY"
        blogger = AsyncBlogger(
            "gpt-4o-2024-05-13",
            writer_prompt=WRITER_PROMPT,
            critic_prompt=CRITIC_PROMPT,
            critic_prefix=CRITIC_PREFIX,
        )
        user_prompt = (
            "Write an engaging blogpost on the recent updates in {topic}. "
            "The blogpost should be engaging and understandable for general audience. "
            "Should have more than 3 paragraphes but no longer than 1000 words. [topic={topic}]"
        )
        bot_msgs = asyncio.get_event_loop().run_until_complete(
            asyncio.gather(
                *[
                    blogger(
                        AgentMessage(sender="user", content=user_prompt.format(topic=topic)),
                        session_id=i,
                    )
                    for i, topic in enumerate(TOPICS)
                ]
            )
        )
        print(bot_msgs[0].content)
        print("-" * 120)
        for msg in blogger.state_dict(session_id=0)["writer.memory"]:
            print("*" * 80)
            print(f"{msg['sender']}:\n\n{msg['content']}")
        print("-" * 120)
        for msg in blogger.state_dict(session_id=0)["critic.memory"]:
            print("*" * 80)
            print(f"{msg['sender']}:\n\n{msg['content']}")
        requests = server.chat_requests
        peak = server.peak_concurrency

    assert capsys.readouterr().out.startswith("writer on AI [topic=AI] round 3\n")
    # 5 sessions x (3 writer + 3 critic + 1 writer) requests, served concurrently.
    assert len(requests) == 35 and peak > 1
    assert all(r.headers.get("authorization") == "Bearer YOUR_API_KEY" for r in requests)
    for i, topic in enumerate(TOPICS):
        assert bot_msgs[i].content == f"writer on {topic} [topic={topic}] round 3"
        state = blogger.state_dict(session_id=i)
        writer, critic = state["writer.memory"], state["critic.memory"]
        assert [m["sender"] for m in writer] == ["user"] + ["writer", "critic"] * 3 + ["writer"]
        assert [m["sender"] for m in critic] == ["writer", "critic"] * 3
        # Sessions never mix: every message of session i is about topic i.
        assert all(f"[topic={topic}]" in m["content"] for m in writer + critic)
        # The critic received the writer's drafts with the prefix; the writer kept them plain.
        assert all(
            m["content"].startswith(CRITIC_PREFIX) for m in critic if m["sender"] == "writer"
        )
        assert not any(m["content"].startswith(CRITIC_PREFIX) for m in writer)
        assert state["memory"][0]["content"].startswith("Write an engaging blogpost")
