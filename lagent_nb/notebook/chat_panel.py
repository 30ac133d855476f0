"""``ChatPanel``: a chat widget for one agent, drawn from its memory.

The conversation shown is always the agent's memory for the selected session (one source of
truth): the panel subscribes to memory changes and to ``activity`` (turns in progress, from
this panel or from a ``%%agent`` cell), and redraws only what changed. A streamed reply is
one extra output whose content is replaced, throttled; it disappears when the final message
lands in memory.

Turns never block the kernel: async agents run as tasks on the kernel's loop and sync agents
on a worker thread, so Stop is handled while the agent works (for a sync agent it lands at
the worker's next Python instruction; see ``runner.start_thread``). Output from those threads is
set on the widgets directly (``outputs`` traits), never through ``with out:``, which would
capture nothing from a thread.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

import ipywidgets as widgets

from lagent_nb.notebook import activity
from lagent_nb.notebook.display import (
    entry_markdown,
    entry_text,
    message_mimebundle,
    transcript_entry,
)
from lagent_nb.notebook.lookup import ASYNC, ASYNC_STREAM, agent_kind, session_messages
from lagent_nb.notebook.runner import Throttle, Turn, start_task, start_thread


def _display_output(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _message_key(msg: Any) -> Tuple[str, str]:
    return (str(getattr(msg, "sender", "")), repr(getattr(msg, "content", "")))


class ChatPanel(widgets.VBox):
    """Chat with ``agent`` in ``session_id``: Markdown messages, folded tool calls, Stop/Reset.

    ``max_messages`` bounds how many of the latest messages are drawn (long sessions stay
    fast); ``update_interval`` is the minimum time between two redraws of a streamed reply,
    measured with ``clock`` (benchmarks pass a simulated one).
    """

    def __init__(
        self,
        agent: Any,
        session_id: Any = 0,
        *,
        update_interval: float = 0.05,
        timeout: Optional[float] = None,
        max_messages: int = 200,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ):
        self.agent, self.session_id = agent, session_id
        self.timeout, self.max_messages = timeout, max_messages
        self._lock = threading.RLock()
        self._drawn: List[Tuple[Tuple[str, str], widgets.Output]] = []
        self._active: Optional[activity.Run] = None
        self._worker: Any = None
        self._stream_throttle = Throttle(update_interval, clock=clock)
        self._syncing = False

        self.session_picker = widgets.Dropdown(description="session", layout={"width": "14em"})
        self.new_button = widgets.Button(description="New", tooltip="start a new session")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", disabled=True)
        self.reset_button = widgets.Button(description="Reset", tooltip="forget this session")
        self.status = widgets.HTML()
        self.hidden_note = widgets.HTML()
        self.messages = widgets.VBox()
        self.stream_view = widgets.Output()
        self.error_view = widgets.HTML()
        self.input = widgets.Text(
            placeholder="Message; Enter or Shift+Enter sends", layout={"flex": "1"}
        )
        self.send_button = widgets.Button(description="Send", button_style="primary")
        header = widgets.HBox(
            [self.session_picker, self.new_button, self.reset_button, self.stop_button, self.status]
        )
        footer = widgets.HBox([self.input, self.send_button])
        body = [self.hidden_note, self.messages, self.stream_view, self.error_view]
        super().__init__([header, *body, footer], **kwargs)

        self.send_button.on_click(lambda _: self.send())
        self.input.on_msg(self._on_input_msg)
        self.stop_button.on_click(lambda _: self.stop())
        self.reset_button.on_click(lambda _: self.reset())
        self.new_button.on_click(lambda _: self.new_session())
        self.session_picker.observe(self._on_pick, names="value")
        self._handles = [activity.listen(self._on_activity)]
        if agent.memory is not None:
            self._handles.append(agent.memory.subscribe(self._on_memory))
        self._refresh_sessions()
        self.render()

    # -- actions -------------------------------------------------------------------------------

    def send(self, text: Optional[str] = None) -> bool:
        """Send ``text`` (default: the input box) as the next user message; False if refused."""
        text = self.input.value if text is None else text
        if not text.strip():
            self._say("Type a message first.")
            return False
        if self._active is not None and not self._active.done:
            self._say("The agent is still answering: wait, or press Stop.")
            return False
        self.input.value = ""
        self.error_view.value = ""
        turn = Turn(
            self.agent,
            text,
            session_id=self.session_id,
            timeout=self.timeout,
            throttle=Throttle(0.0, None),  # the panel's own throttle applies (_on_activity)
            label=getattr(self.agent, "name", None) or type(self.agent).__name__,
        )
        starter = start_task if agent_kind(self.agent) in (ASYNC, ASYNC_STREAM) else start_thread
        self._worker = starter(turn)  # its end reaches the panel through activity
        return True

    def stop(self) -> bool:
        """Stop the turn in progress for this agent and session."""
        run = self._active
        return run.cancel() if run is not None else False

    def reset(self) -> None:
        """Forget the selected session (the agent's and its sub-agents' memories)."""
        self.agent.reset(session_id=self.session_id, recursive=True)
        self.render()

    def new_session(self) -> Any:
        """Switch to a fresh session id (one more than the largest integer id in use)."""
        ints = [s for s in self._sessions() if isinstance(s, int)]
        self.select(max(ints, default=-1) + 1)
        return self.session_id

    def select(self, session_id: Any) -> None:
        """Show (and talk to) ``session_id``."""
        self.session_id = session_id
        self._refresh_sessions()
        self.render()

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the panel's last turn ended (for scripts and tests); False on timeout."""
        worker = self._worker
        if isinstance(worker, threading.Thread):
            worker.join(timeout)
            return not worker.is_alive()
        return worker is None or worker.done()

    def close(self) -> None:
        for handle in getattr(self, "_handles", []):  # Widget.__del__ may call this early
            handle.remove()
        super().close()

    # -- drawing -------------------------------------------------------------------------------

    def _memory_messages(self) -> List[Any]:
        return session_messages(self.agent, self.session_id)

    def render(self) -> None:
        """Redraw from memory, re-creating only the message views that changed."""
        with self._lock:
            msgs = self._memory_messages()
            hidden = max(0, len(msgs) - self.max_messages)
            msgs = msgs[hidden:]
            keys = [_message_key(m) for m in msgs]
            same = 0
            while same < min(len(keys), len(self._drawn)) and self._drawn[same][0] == keys[same]:
                same += 1
            if hidden:
                same = 0  # the window slid: every position holds another message now
            fresh = [
                (k, self._message_view(m)) for k, m in zip(keys[same:], msgs[same:], strict=True)
            ]
            self._drawn = self._drawn[:same] + fresh
            self.messages.children = tuple(view for _, view in self._drawn)
            self.hidden_note.value = (
                f"<i>{hidden} earlier messages not shown (MemoryTree shows all)</i>"
                if hidden
                else ""
            )

    @staticmethod
    def _message_view(msg: Any) -> widgets.Output:
        view = widgets.Output()
        view.outputs = (_display_output(message_mimebundle(msg)),)
        return view

    def _show_partial(self, chunk: Any) -> None:
        entry = transcript_entry(chunk)
        data = {"text/plain": entry_text(entry), "text/markdown": entry_markdown(entry)}
        self.stream_view.outputs = (_display_output(data),)

    def _say(self, text: str) -> None:
        self.status.value = f"<span style='color:#888'>{text}</span>"

    def _sessions(self) -> List[Any]:
        known = list(self.agent.memory.memory_map) if self.agent.memory is not None else []
        return known if self.session_id in known else [*known, self.session_id]

    def _refresh_sessions(self) -> None:
        options = [(str(s), s) for s in self._sessions()]
        self._syncing = True  # new options move the selection: not a user's pick
        try:
            if list(self.session_picker.options) != options:
                self.session_picker.options = options
            if self.session_picker.value != self.session_id:
                self.session_picker.value = self.session_id
        finally:
            self._syncing = False

    # -- events --------------------------------------------------------------------------------

    def _on_input_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            self.send()

    def _on_pick(self, change: dict) -> None:
        if not self._syncing and change["new"] not in (None, self.session_id):
            self.select(change["new"])

    def _on_memory(self, event: Any) -> None:
        if event.session_id == self.session_id:
            self.render()
        self._refresh_sessions()  # a session may have appeared or gone

    def _on_activity(self, run: activity.Run, event: str) -> None:
        if run.agent is not self.agent or run.session_id != self.session_id:
            return
        if event == "start":
            self._active = run
            self.stop_button.disabled = False
            self._say("answering…")
        elif event == "update" and self._stream_throttle.due(len(str(run.partial.content))):
            self._show_partial(run.partial)
        elif event == "end":
            self.stream_view.outputs = ()
            self.stop_button.disabled = True
            self._say("")
            self.render()
            if run.error is not None:  # from this panel or a cell: the panel shows it either way
                self.error_view.value = (
                    f"<pre style='color:#c0392b;white-space:pre-wrap'>"
                    f"{type(run.error).__name__}: {html.escape(str(run.error))}</pre>"
                )
