"""The lagent-named interpreters on sibling kernels, through ActionExecutor as lagent's README."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lagent_nb.actions.action_executor import ActionExecutor, AsyncActionExecutor
from lagent_nb.actions.ipython_interpreter import (
    AsyncIPythonInteractive,
    AsyncIPythonInterpreter,
    IPythonInteractive,
    IPythonInterpreter,
)
from lagent_nb.schema import ActionStatusCode, AgentMessage, FunctionCall

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def call(name: str, code: str) -> AgentMessage:
    return AgentMessage(sender="assistant", content=FunctionCall(name, {"command": code}))


def test_executor_gives_each_session_its_own_kernel(kernels):
    executor = ActionExecutor(actions=[IPythonInteractive(kernels=kernels)])
    executor(call("IPythonInteractive", "who = 'first'"), session_id=1)
    executor(call("IPythonInteractive", "who = 'second'"), session_id=2)
    first = executor(call("IPythonInteractive", "who"), session_id=1).content
    second = executor(call("IPythonInteractive", "who"), session_id=2).content
    assert first.state == ActionStatusCode.SUCCESS
    assert first.format_result() == "'first'"
    assert second.format_result() == "'second'"


async def test_async_executor_gives_each_session_its_own_kernel(kernels):
    executor = AsyncActionExecutor(actions=[AsyncIPythonInterpreter(kernels=kernels)])
    await executor(call("AsyncIPythonInterpreter", "z = 10"), session_id="x")
    await executor(call("AsyncIPythonInterpreter", "z = 20"), session_id="y")
    got_x = (await executor(call("AsyncIPythonInterpreter", "z + 1"), session_id="x")).content
    got_y = (await executor(call("AsyncIPythonInterpreter", "z + 1"), session_id="y")).content
    assert (got_x.format_result(), got_y.format_result()) == ("11", "21")


@pytest.mark.parametrize(
    "command",
    [
        "```python\nprint('out')\n6 * 7\n```",
        "Run this: `print('out'); 6 * 7`",
        '{"code": "print(\'out\')\\n6 * 7"}',
        "print('out')\n6 * 7",
    ],
    ids=["fenced", "inline", "json5", "plain"],
)
def test_code_formats_and_both_stdout_and_value_reach_the_model(kernels, command):
    ret = IPythonInteractive(kernels=kernels)({"command": command})
    assert ret.state == ActionStatusCode.SUCCESS
    assert ret.format_result() == "out\n42"
    assert ret.args == {"text": command}


def test_errors_carry_the_clean_traceback_and_earlier_output(kernels):
    ret = IPythonInterpreter(kernels=kernels)({"command": "print('before')\n1/0"})
    assert ret.state == ActionStatusCode.API_ERROR
    assert ret.errmsg.startswith("before\n")
    assert "ZeroDivisionError" in ret.errmsg
    assert "\x1b[" not in ret.errmsg
    outputs = ret.result[0]["outputs"]
    assert [o["output_type"] for o in outputs] == ["stream", "error"]


def test_timeout_argument_and_max_out_len_are_honoured(kernels):
    action = IPythonInteractive(timeout=60, kernels=kernels)
    ret = action({"command": "import time; time.sleep(30)", "timeout": 1}, session_id="t")
    assert ret.state == ActionStatusCode.API_ERROR
    assert "TimeoutError: The code did not finish within 1 s" in ret.errmsg
    action = IPythonInteractive(max_out_len=100, kernels=kernels)
    long = action({"command": "print('a' * 5000)"}, session_id="t").format_result()
    assert len(long) <= 100 and "omitted" in long


def test_figures_and_pil_images_come_back_as_image_items(kernels):
    code = (
        "import matplotlib.pyplot as plt\n"
        "from PIL import Image\n"
        "plt.plot([1, 3, 2]); plt.show()\n"
        "display(Image.new('RGB', (8, 8), 'red'))\n"
        "'done'"
    )
    ret = IPythonInterpreter(kernels=kernels)({"command": code})
    assert ret.state == ActionStatusCode.SUCCESS, ret.errmsg
    images = [item for item in ret.result if item["type"] == "image"]
    assert len(images) == 2
    for image in images:
        path = Path(image["content"])
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert base64.b64decode(image["data"]) == path.read_bytes()
        assert image["mime_type"] == "image/png"
    assert "[image](" in ret.format_result()
    displays = [o for o in ret.result[0]["outputs"] if o["output_type"] == "display_data"]
    assert len(displays) == 2 and all("image/png" in o["data"] for o in displays)


def test_reset_and_close_session_affect_one_session(kernels):
    action = IPythonInteractive(kernels=kernels)
    action({"command": "k = 1"}, session_id="one")
    action({"command": "k = 2"}, session_id="two")
    action.reset("one")
    assert action({"command": "k"}, session_id="one").state == ActionStatusCode.API_ERROR
    assert action({"command": "k"}, session_id="two").format_result() == "2"
    action.close_session("two")
    assert action({"command": "k"}, session_id="two").state == ActionStatusCode.API_ERROR


async def test_async_interactive_reset_all_sessions(kernels):
    action = AsyncIPythonInteractive(kernels=kernels)
    await action({"command": "q = 3"}, session_id="p")
    await action({"command": "q = 4"}, session_id="r")
    action.reset()  # blocking in lagent's AsyncIPythonInteractive too
    for sid in ("p", "r"):
        assert (await action({"command": "q"}, session_id=sid)).state == ActionStatusCode.API_ERROR


def test_two_instances_never_share_a_kernel(kernels):
    first, second = IPythonInteractive(kernels=kernels), IPythonInteractive(kernels=kernels)
    first({"command": "owner = 'first'"})
    assert second({"command": "owner"}).state == ActionStatusCode.API_ERROR


async def test_async_interpreter_session_methods_are_awaitable(kernels):
    action = AsyncIPythonInterpreter(kernels=kernels)
    await action.initialize("s")
    assert kernels.session_kernel("s", action._owner) is not None
    await action({"command": "w = 1"}, session_id="s")
    await action.reset("s")
    assert (await action({"command": "w"}, session_id="s")).state == ActionStatusCode.API_ERROR
    await action.shutdown("s")
    assert (action._owner, "s") not in kernels.sessions()
