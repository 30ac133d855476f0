"""API keys and other credentials never show up where a user, a log or LLM-written code can see.

Every credential-like environment variable gets a unique sentinel value; the tests then look
for those values in everything the package produces: sibling-kernel environments, ``%%agent``
outputs, widget state, reprs, ``state_dict``, log records and error messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, List

import psutil
import pytest
from IPython.utils.capture import capture_output

from lagent_nb.actions import ActionExecutor, AsyncActionExecutor
from lagent_nb.agents import Agent, AsyncAgent, StreamingAgent
from lagent_nb.hooks import MessageLogger
from lagent_nb.llms import GPTAPI, AsyncGPTAPI
from lagent_nb.llms.retry import LLMAPIError
from lagent_nb.schema import AgentMessage
from lagent_nb.testing.openai_server import OpenAIServer, unused_base_url

pytestmark = pytest.mark.timeout(120)

# Names as users really spell them, lower case included: the scrubber matches substrings.
SECRET_NAMES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GITHUB_TOKEN",
    "HF_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "CLIENT_SECRET",
    "DB_PASSWORD",
    "my_service_password",
)
FAST = {"retry": 2, "retry_wait": 0.05, "timeout": 2, "connect_timeout": 1}


def sentinel(name: str) -> str:
    return f"sentinel-{name.lower()}-{uuid.uuid4().hex}"


@pytest.fixture
def secrets(monkeypatch) -> List[str]:
    """Set every credential variable to a fresh sentinel; returns the sentinel values."""
    values = []
    for name in SECRET_NAMES:
        value = sentinel(name)
        monkeypatch.setenv(name, value)
        values.append(value)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return values


def leaks(secrets: List[str], *things: Any) -> List[str]:
    """The sentinels found in the text form of ``things`` (JSON where possible, else repr)."""
    text = "\n".join(
        t if isinstance(t, str) else json.dumps(t, default=repr, ensure_ascii=False) for t in things
    )
    return [s for s in secrets if s in text]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


# -- sibling kernels ----------------------------------------------------------------------------


@pytest.mark.slow
def test_sibling_kernels_see_no_credential(secrets):
    from lagent_nb.actions import IPythonInterpreter
    from lagent_nb.kernels import KernelSessions

    # Created after the variables are set, so a leak would really reach the kernel.
    with KernelSessions(spare=False) as kernels:
        raw = kernels.execute("import os; print(dict(os.environ))", session_id="raw")
        action = IPythonInterpreter(kernels=kernels)
        ret = action({"command": "import os; print(dict(os.environ))"})
        pids = kernels.kernel_pids()
        outside = [psutil.Process(pid).environ() for pid in pids]
    assert "PATH" in raw.logs.stdout, "the kernel printed its environment"
    assert leaks(secrets, raw.logs.stdout, ret.format_result(), outside) == []


# A user process whose credentials were in its environment from the start (as when Jupyter is
# launched from a shell that exported them): LLM-written code in a sibling kernel must not be
# able to read them back from the parent's /proc/<pid>/environ.
PARENT_ENVIRON_PROBE = textwrap.dedent(
    """
    import json, os, sys
    from lagent_nb.kernels import KernelLimits, KernelSessions
    code = (
        "import os; print(os.getuid()); "
        "print(open(f'/proc/{os.getppid()}/environ', 'rb').read().decode())"
    )
    limits = KernelLimits(run_as=json.loads(sys.argv[1]))
    with KernelSessions(spare=False, limits=limits) as kernels:
        result = kernels.execute(code, timeout=30)
    print(json.dumps({"parent_uid": os.getuid(), "stdout": result.logs.stdout,
                      "error": result.error.name if result.error else None}))
    """
)


@pytest.fixture(params=["auto", "nobody"])
def run_as(request, tmp_path) -> tuple:
    """The kernel user (default ``auto``, or root dropping to ``nobody``) and the environment
    updates that make a kernel runnable as that user."""
    if request.param == "auto":
        return "auto", {}
    from lagent_nb.kernels.testing import (
        KernelUserUnavailable,
        kernelspec_env_for,
        switchable_user,
    )

    try:
        return "nobody", kernelspec_env_for(switchable_user("nobody"), tmp_path)
    except KernelUserUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_kernel_cannot_read_the_parents_initial_environment(child_env, run_as):
    user, env_updates = run_as
    value = sentinel("OPENAI_API_KEY")
    env = {**child_env, **env_updates, "OPENAI_API_KEY": value}
    child = subprocess.run(
        [sys.executable, "-c", PARENT_ENVIRON_PROBE, json.dumps(user)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    kernel_uid = seen["stdout"].split("\n", 1)[0]
    if user == "nobody":
        assert kernel_uid != str(seen["parent_uid"]), "the kernel dropped to another user"
    elif value in seen["stdout"] and kernel_uid == str(seen["parent_uid"]):
        pytest.xfail(
            "known bug: a sibling kernel running as the parent's user reads the parent's "
            "/proc/<ppid>/environ; see tests/reliability/README.md"
        )
    assert value not in seen["stdout"], seen["error"]


# Stands in for the `lmdeploy` package: `python -m lmdeploy serve …` records the environment it
# was given and exits, which is all the test needs from a model server child process.
FAKE_LMDEPLOY_MAIN = """\
import json, os, sys
with open(os.environ["RELIABILITY_ENV_DUMP"], "w") as f:
    json.dump(dict(os.environ), f)
sys.exit(3)
"""


def test_model_server_child_gets_no_credential(secrets, monkeypatch, tmp_path):
    from lagent_nb.llms.lmdeploy_wrapper import start_api_server

    package = tmp_path / "fake" / "lmdeploy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_LMDEPLOY_MAIN)
    monkeypatch.syspath_prepend(str(package.parent))
    path = os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    dump = tmp_path / "env.json"
    monkeypatch.setenv("RELIABILITY_ENV_DUMP", str(dump))
    assert "lmdeploy" not in sys.modules
    try:
        with pytest.raises(RuntimeError, match="exited with code 3"):
            start_api_server("model", None, "127.0.0.1", 1, 1, None, startup_timeout=30)
    finally:
        sys.modules.pop("lmdeploy", None)  # the fake must not outlive this test
    seen = json.loads(dump.read_text())
    assert seen["RELIABILITY_ENV_DUMP"] == str(dump), "the child really ran"
    assert leaks(secrets, seen) == []


# -- %%agent cells and widgets ------------------------------------------------------------------


def _run(ip, cell: str):
    with capture_output() as captured:
        result = ip.run_cell(cell)
    return result, captured


def _captured_text(captured) -> List[Any]:
    return [captured.stdout, captured.stderr, *(o.data for o in captured.outputs)]


def test_agent_cells_show_no_credential(secrets, shell, server):
    shell.user_ns.update(URL=server.base_url, FAST=FAST)
    shell.run_cell(
        "from lagent_nb.agents import Agent, AsyncStreamingAgent\n"
        "from lagent_nb.llms import GPTAPI, AsyncGPTAPI\n"
        "bot = Agent(GPTAPI('m', api_base=URL, **FAST), name='bot')\n"
        "sbot = AsyncStreamingAgent(AsyncGPTAPI('m', api_base=URL, **FAST), name='sbot')\n"
    )
    outputs: List[Any] = []
    for cell in ("%%agent bot\nhello", "%%agent sbot\nhello", "bot", "bot.llm", "%agent list"):
        result, captured = _run(shell, cell)
        assert result.error_in_exec is None, cell
        outputs += _captured_text(captured)
    server.fail("http_401")
    result, captured = _run(shell, "%%agent bot\nonce more")
    assert isinstance(result.error_in_exec, LLMAPIError)
    outputs += [*_captured_text(captured), str(result.error_in_exec)]
    # the key really was used: a leak would have had something to leak
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {secrets[0]}"
    assert "echo: hello" in json.dumps(outputs)
    assert leaks(secrets, *outputs) == []


def test_verbose_tracebacks_show_no_credential(secrets, shell, server):
    """``%xmode Verbose`` (a common debugging setting) prints every frame's local variables."""
    shell.user_ns.update(URL=server.base_url, FAST=FAST)
    shell.run_cell(
        "from lagent_nb.agents import Agent\nfrom lagent_nb.llms import GPTAPI\n"
        "bot = Agent(GPTAPI('m', api_base=URL, **FAST), name='bot')"
    )
    server.fail("http_401")
    shell.run_line_magic("xmode", "Verbose")
    try:
        result, captured = _run(shell, "%%agent bot\nhello")
    finally:
        shell.run_line_magic("xmode", "Context")
    assert isinstance(result.error_in_exec, LLMAPIError)
    assert "HTTP 401" in captured.stdout + captured.stderr, "the traceback was shown"
    assert leaks(secrets, *_captured_text(captured)) == []


@pytest.mark.slow
def test_widget_state_holds_no_credential(secrets, shell, server):
    import ipywidgets

    from lagent_nb.notebook import ChatPanel, MemoryTree

    agent = Agent(GPTAPI("m", api_base=server.base_url, **FAST), name="bot")
    panel, tree = ChatPanel(agent), MemoryTree(agent)
    try:
        assert panel.send("hello")
        assert panel.wait(30)
        server.fail("http_401")
        assert panel.send("again")
        assert panel.wait(30)
        tree.refresh()
        states = [w.get_state() for w in list(ipywidgets.widgets.widget._instances.values())]
        assert "echo: hello" in json.dumps(states, default=repr)
        assert "HTTP 401" in json.dumps(states, default=repr), "the error was shown"
        assert leaks(secrets, states) == []
    finally:
        panel.close()
        tree.close()


# -- reprs, state_dict, logs ---------------------------------------------------------------------


def test_reprs_and_state_dict_hold_no_credential(secrets, server):
    llm, allm = GPTAPI("m", api_base=server.base_url), AsyncGPTAPI("m", api_base=server.base_url)
    agent = Agent(llm, name="bot")
    agent("hello")
    things = [llm, allm, agent, AsyncAgent(allm), StreamingAgent(llm)]
    things += [ActionExecutor([]), AsyncActionExecutor([])]
    texts = [f(t) for t in things for f in (repr, str)]
    assert leaks(secrets, texts, agent.state_dict(), agent.memory.get(0).save()) == []
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {secrets[0]}"


def test_logs_at_debug_hold_no_credential(secrets, server, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: lagent_nb, openai, httpx, httpcore
    for name in ("lagent_nb", "lagent", "openai", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    agent = Agent(GPTAPI("m", api_base=server.base_url, **FAST), name="bot")
    logger_hook = MessageLogger(name="lagent")
    logger_hook.logger.addHandler(caplog.handler)  # it may not propagate to the root
    agent.register_hook(logger_hook)
    agent("hello")
    server.fail("http_500", times=1)  # a retry is logged
    agent("after a retry")
    server.fail("http_401")
    with pytest.raises(LLMAPIError):
        agent("refused")
    # a tool that echoes credentials back, in the shapes a printout has: the logger masks them
    echoed = f"OPENAI_API_KEY={secrets[0]}\nAuthorization: Bearer {secrets[1]}"
    logger_hook.after_action(None, AgentMessage(sender="tool", content=echoed), 0)
    logger_hook.logger.removeHandler(caplog.handler)
    records = [f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records]
    assert any("retrying" in r for r in records) and any("after a retry" in r for r in records)
    assert leaks(secrets, records, caplog.text) == []


# -- error messages -----------------------------------------------------------------------------


def _error_texts(error: BaseException) -> List[str]:
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


@pytest.mark.parametrize("llm_class", [GPTAPI, AsyncGPTAPI])
def test_connection_refused_error_holds_no_credential(secrets, llm_class):
    url = unused_base_url()
    llm = llm_class("m", api_base=url, **FAST)
    with pytest.raises(LLMAPIError) as caught:
        reply = llm.chat([{"role": "user", "content": "hi"}])
        if asyncio.iscoroutine(reply):
            asyncio.run(reply)
    assert url in str(caught.value)
    assert leaks(secrets, *_error_texts(caught.value)) == []


@pytest.mark.parametrize("mode", ["http_401", "http_500"])
def test_http_error_holds_no_credential(secrets, server, mode):
    server.fail(mode)
    with pytest.raises(LLMAPIError) as caught:
        GPTAPI("m", api_base=server.base_url, **FAST).chat([{"role": "user", "content": "hi"}])
    assert mode[-3:] in str(caught.value)
    assert leaks(secrets, *_error_texts(caught.value)) == []


class _KeyEchoingHandler(BaseHTTPRequestHandler):
    """A proxy that puts the caller's bearer token into its 401 message (some do)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        message = f"Incorrect API key provided: {token}"
        body = json.dumps({"error": {"message": message, "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echoing_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _KeyEchoingHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.parametrize("from_env", [True, False], ids=["env", "argument"])
def test_a_server_echoing_the_key_is_redacted(secrets, monkeypatch, echoing_server, from_env):
    key = secrets[0] if from_env else sentinel("argument")
    if not from_env:
        monkeypatch.delenv("OPENAI_API_KEY")
    llm = GPTAPI("m", api_base=echoing_server, key="ENV" if from_env else key, **FAST)
    with pytest.raises(LLMAPIError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    assert "Incorrect API key provided" in str(caught.value)
    assert leaks([*secrets, key], *_error_texts(caught.value)) == []


def test_a_key_passed_as_an_argument_never_leaks(monkeypatch, server, caplog):
    for name in SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    key, second = sentinel("arg-key"), sentinel("arg-key-2")
    caplog.set_level(logging.DEBUG)
    llm = GPTAPI("m", api_base=server.base_url, key=[key, second], **FAST)
    agent = Agent(llm, name="bot")
    agent("hello")
    server.fail("http_401")
    with pytest.raises(LLMAPIError) as caught:
        agent("refused")
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {key}"
    assert server.chat_requests[1].headers["authorization"] == f"Bearer {second}"
    found = leaks(
        [key, second],
        repr(llm),
        repr(agent),
        agent.state_dict(),
        caplog.text,
        *_error_texts(caught.value),
    )
    assert found == []
    assert key not in os.environ.values(), "the key was not exported to the environment"
