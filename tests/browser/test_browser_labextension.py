"""The JupyterLab extension in a real JupyterLab and a real browser.

One notebook goes through the life a user gives it: run an ``%%agent`` cell with a scripted
agent, see the transcript drawn by the extension's renderer, dock it in the sidebar, save,
shut the kernel down, reload, and see the transcript drawn again from the saved file alone.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import nbformat
import pytest
from PIL import Image
from playwright.sync_api import expect

# Each wait inside is bounded by the conftest's LAGENT_NB_BROWSER_TIMEOUT; this bounds the sum.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

MIME = "application/vnd.lagent-nb.transcript+json"
NOTEBOOK = "agent.ipynb"
SETUP_CELL = """\
%load_ext lagent_nb
from lagent_nb.testing import ScriptedLLM
from lagent_nb.agents import Agent
bot = Agent(ScriptedLLM(['Hello **world**', 'Second *reply*']), name='bot')"""
AGENT_CELL = "%%agent bot\nHi"
PANEL_CELL = "from lagent_nb.notebook import ChatPanel\nChatPanel(bot)"
# A bundle with what the scripted agent cannot produce: a tool call, a result with an image,
# and content that tries to inject markup the sanitizer must remove.
HOSTILE = (
    "Done <img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
)


def _png_base64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _tool_cell() -> str:
    transcript = {
        "version": 1,
        "title": "coder",
        "session_id": "0",
        "messages": [
            {
                "sender": "coder",
                "role": "assistant",
                "content": "Plotting.",
                "future_key": 1,
                "tool_call": {"name": "IPythonInterpreter", "arguments": "plot(x, x**2)"},
            },
            {
                "sender": "ActionExecutor",
                "role": "tool",
                "content": "",
                "tool_result": {
                    "ok": True,
                    "text": "<Figure 1>",
                    "images": [
                        {"mime": "image/png", "data": _png_base64()},
                        {"mime": "text/html", "data": "PGI+"},
                    ],
                },
            },
            {"sender": "coder", "role": "assistant", "content": HOSTILE},
        ],
    }
    return (
        "from IPython.display import display\n"
        f"display({{{MIME!r}: {transcript!r}, 'text/plain': 'transcript'}}, raw=True)"
    )


def _write_notebook(root: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(SETUP_CELL),
        nbformat.v4.new_code_cell(AGENT_CELL),
        nbformat.v4.new_code_cell(_tool_cell()),
        nbformat.v4.new_code_cell(PANEL_CELL),
    ]
    path = root / NOTEBOOK
    nbformat.write(notebook, path)
    return path


def _open_notebook(page, server) -> None:
    page.goto(f"{server.url}/lab/tree/{NOTEBOOK}?token={server.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")


def _wait_for_idle_kernel(page) -> None:
    """Idle in the toolbar is not enough: keys sent before the session has a kernel are lost."""
    page.wait_for_function(
        """() => {
            const sc = window.jupyterapp?.shell.currentWidget?.sessionContext;
            const k = sc?.session?.kernel;
            return !!(sc && sc.isReady && !sc.pendingInput && k
                      && k.connectionStatus === 'connected' && k.status === 'idle');
        }"""
    )


def _cell(page, index: int):
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index)


def _transcript(page, index: int):
    return _cell(page, index).locator(".jp-OutputArea-output.lagent-nb-Transcript")


def _assert_agent_transcript(page) -> None:
    transcript = _transcript(page, 1)
    bold = transcript.locator(".lagent-nb-Transcript-assistant strong")
    bold.wait_for()
    assert bold.inner_text() == "world"
    assert (
        transcript.locator(".lagent-nb-Transcript-user .lagent-nb-Transcript-content").inner_text()
        == "Hi"
    )
    assert transcript.get_attribute("data-mime-type") == MIME


def _assert_tool_transcript(page) -> None:
    transcript = _transcript(page, 2)
    transcript.locator(".lagent-nb-Transcript-turn").nth(2).wait_for()
    assert transcript.locator(".lagent-nb-Transcript-title").inner_text() == "coder"
    call = transcript.locator("details.lagent-nb-Transcript-toolCall")
    assert call.locator("summary").inner_text() == "Tool call: IPythonInterpreter"
    assert call.get_attribute("open") is None, "tool calls start collapsed"
    assert call.locator("pre").text_content() == "plot(x, x**2)"
    result = transcript.locator("details.lagent-nb-Transcript-toolResult")
    assert result.locator("pre").inner_text() == "<Figure 1>"
    images = result.locator("img")
    assert images.count() == 1, "only the PNG is shown; the text/html 'image' is dropped"
    assert images.first.get_attribute("src").startswith("data:image/png;base64,")
    assert images.first.evaluate("img => img.complete && img.naturalWidth") == 8
    hostile = transcript.locator(".lagent-nb-Transcript-turn").nth(2)
    assert hostile.locator(".lagent-nb-Transcript-content").inner_text().strip() == "Done"
    assert hostile.locator("script").count() == 0
    assert hostile.locator("[onerror]").count() == 0
    assert page.title() != "pwned"


def _expect_language(page, index: int, language: str) -> None:
    """The language CodeMirror uses for a cell's editor (set asynchronously, hence the wait)."""
    expect(_cell(page, index).locator(".cm-content")).to_have_attribute("data-language", language)


def _toggle_magic_prefix(page) -> None:
    """Editing the first line switches the language both ways, without re-opening the cell."""
    _cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Delete")
    page.keyboard.press("Delete")
    _expect_language(page, 1, "python")
    page.keyboard.type("%%")
    _expect_language(page, 1, "markdown")


def _run_all(page) -> None:
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    for index in range(4):
        prompt = _cell(page, index).locator(".jp-InputPrompt")
        prompt.filter(has_text=f"[{index + 1}]:").wait_for()


def _save_and_wait(page, path: Path, timeout: float) -> None:
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + timeout
    while MIME not in path.read_text() or "Hello **world**" not in path.read_text():
        assert time.monotonic() < deadline, f"{path} was not saved with the transcript"
        time.sleep(0.2)


def _shutdown_kernels(server) -> None:
    for session in server.api("GET", "/api/sessions"):
        server.api("DELETE", f"/api/sessions/{session['id']}")
    assert server.api("GET", "/api/kernels") == []


def _dock_chat_panel_and_talk_from_the_sidebar(page) -> None:
    """The cell's context menu docks its ChatPanel widget in the right sidebar, where it is a
    second live view: a message sent there is answered in both views."""
    in_notebook = _cell(page, 3).locator(".jp-Cell-outputArea")
    greeting = in_notebook.locator(".lagent-nb-Transcript strong", has_text="world")
    greeting.click(button="right")
    page.locator(".lm-Menu-item", has_text="Open Agent Chat in Sidebar").click()
    docked = page.locator("#jp-right-stack .lagent-nb-ChatView")
    docked.locator(".jupyter-widgets .lagent-nb-Transcript strong", has_text="world").wait_for()
    docked.locator("input[type='text']").fill("Again")
    docked.get_by_role("button", name="Send").click()
    for view in (docked, in_notebook):
        view.locator(".lagent-nb-Transcript-assistant em", has_text="reply").wait_for()
    # One transcript per message, each titled with its own sender: the title is left out.
    expect(in_notebook.locator(".lagent-nb-Transcript-title")).to_have_count(0)


def _block_new_sessions(route) -> None:
    """Opening a notebook starts a kernel; refusing the session request keeps it kernel-less."""
    if route.request.method == "POST":
        route.abort()
    else:
        route.continue_()


def test_transcript_renders_live_docks_in_sidebar_and_survives_reload(
    lab_server, page, console_errors: list[str], output_dir: Path, browser_timeout: float
) -> None:
    path = _write_notebook(lab_server.root)
    _open_notebook(page, lab_server)
    _wait_for_idle_kernel(page)

    # %%agent cells are edited as Markdown; ordinary code cells keep the kernel's language.
    _expect_language(page, 1, "markdown")
    _expect_language(page, 0, "python")

    _run_all(page)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    _assert_agent_transcript(page)
    _assert_tool_transcript(page)

    _dock_chat_panel_and_talk_from_the_sidebar(page)
    page.screenshot(path=str(output_dir / "live.png"))
    page.locator(".lagent-nb-ChatView-close").click()
    expect(page.locator(".lagent-nb-ChatView")).to_have_count(0)

    _save_and_wait(page, path, browser_timeout)
    _shutdown_kernels(lab_server)
    page.route("**/api/sessions*", _block_new_sessions)
    page.reload()
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")

    # The refused session shows Lab's kernel error, then its kernel picker: choose none.
    page.locator(".jp-Dialog", has_text="Error Starting Kernel").wait_for()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog", has_text="Select Kernel").get_by_role(
        "button", name="No Kernel"
    ).click()

    # No kernel now: what is drawn comes from the saved outputs alone.
    _assert_agent_transcript(page)
    _assert_tool_transcript(page)
    _expect_language(page, 1, "markdown")
    _toggle_magic_prefix(page)
    assert lab_server.api("GET", "/api/kernels") == []
    page.screenshot(path=str(output_dir / "reloaded.png"))
    # A plugin of ours that fails to activate is logged with its id, and an exception thrown by
    # our code has our bundle's URL in its stack. (Other errors are expected here: the
    # sanitized <img src=x>, the refused session, and the widget manager losing its kernel.)
    assert [e for e in console_errors if "lagent-nb" in e] == []
