"""``MemoryTree``: every memory of an agent tree, browsable and live.

agent → sub-agents (the ``state_dict`` addresses) → sessions → messages, each message
expandable to its content, ``formatted`` and ``extra_info``. Nothing is drawn before it is
opened, and a session shows one page of messages at a time, so a 10,000-message memory costs
one page of HTML, not 10,000 widgets. The tree subscribes to every memory it shows and
redraws the open nodes when they change, at most once per ``refresh_interval``.
"""

from __future__ import annotations

import html
import json
import os
import threading
from typing import Any, Callable, Dict, List, Optional

import ipywidgets as widgets

from lagent_nb.notebook.lookup import session_messages, walk
from lagent_nb.notebook.runner import Throttle
from lagent_nb.notebook.state_file import write_json

ALL_SENDERS = "(all senders)"


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=1, default=str)
    except ValueError:
        return repr(value)


def message_html(index: int, msg: Any) -> str:
    """One message as a closed ``<details>``: sender and a preview, then every field."""
    content = _pretty(getattr(msg, "content", ""))
    preview = html.escape(" ".join(content.split())[:80])
    fields = [("content", content)]
    for name in ("formatted", "extra_info"):
        value = getattr(msg, name, None)
        if value is not None:
            fields.append((name, _pretty(value)))
    body = "".join(
        f"<div><b>{name}</b><pre style='white-space:pre-wrap;margin:2px 0'>"
        f"{html.escape(text)}</pre></div>"
        for name, text in fields
    )
    sender = html.escape(str(getattr(msg, "sender", "")))
    return f"<details><summary>#{index} <b>{sender}</b>: {preview}</summary>{body}</details>"


class _Node(widgets.VBox):
    """A row that opens to show children built by ``build()`` only when first opened."""

    def __init__(self, build: Callable[[], List[widgets.Widget]], indent: int):
        self._build = build
        self.toggle = widgets.ToggleButton(layout={"width": "auto"}, style={"font_weight": "bold"})
        self.body = widgets.VBox(layout={"margin": f"0 0 0 {indent}em"})
        super().__init__([self.toggle])
        self.toggle.observe(self._on_toggle, names="value")

    @property
    def expanded(self) -> bool:
        return self.toggle.value

    def expand(self) -> None:
        self.toggle.value = True

    def _on_toggle(self, change: dict) -> None:
        if change["new"]:
            self.refresh_body()
            self.children = (self.toggle, self.body)
        else:
            self.children = (self.toggle,)

    def refresh_body(self) -> None:
        self.body.children = tuple(self._build())


class MemoryTree(widgets.VBox):
    """Browse the memories of ``agent`` and its sub-agents; ``export(path)`` saves them as JSON."""

    def __init__(
        self, agent: Any, *, page_size: int = 50, refresh_interval: float = 0.2, **kwargs: Any
    ):
        self.agent, self.page_size = agent, page_size
        self._pages: Dict[tuple, int] = {}
        self._nodes: Dict[tuple, _Node] = {}
        self._throttle = Throttle(refresh_interval, None)
        self._pending: Optional[threading.Timer] = None
        self._lock = threading.RLock()
        self.refresh_interval = refresh_interval

        self.sender_filter = widgets.Dropdown(description="sender", options=[ALL_SENDERS])
        self.refresh_button = widgets.Button(description="Refresh")
        self.export_path = widgets.Text(value="memory.json", description="export to")
        self.export_button = widgets.Button(description="Export JSON")
        self.status = widgets.HTML()
        toolbar = widgets.HBox(
            [self.sender_filter, self.refresh_button, self.export_path, self.export_button]
        )
        self.paths = dict(walk(agent))
        self.root = self._agent_node("")
        super().__init__([toolbar, self.status, self.root], **kwargs)

        self.sender_filter.observe(lambda _: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.export_button.on_click(lambda _: self._export_clicked())
        self._handles = [
            node.memory.subscribe(self._on_memory)
            for node in self.paths.values()
            if node.memory is not None
        ]
        self.root.expand()
        self._update_senders()

    # -- structure -----------------------------------------------------------------------------

    def _children_paths(self, path: str) -> List[str]:
        """Sub-agents directly below ``path`` (a memoryless container in between is skipped)."""
        below = [p for p in self.paths if p != path and (not path or p.startswith(path + "."))]
        return [p for p in below if not any(q != p and p.startswith(q + ".") for q in below)]

    def _sessions(self, path: str) -> List[Any]:
        memory = self.paths[path].memory
        return list(memory.memory_map) if memory is not None else []

    def _messages(self, path: str, session_id: Any) -> List[Any]:
        msgs = session_messages(self.paths[path], session_id)
        sender = self.sender_filter.value
        if sender == ALL_SENDERS:
            return msgs
        return [m for m in msgs if str(getattr(m, "sender", "")) == sender]

    def _agent_node(self, path: str) -> _Node:
        node = _Node(lambda: self._agent_children(path), indent=1)
        self._nodes[("agent", path)] = node
        self._label_agent(path)
        return node

    def _agent_children(self, path: str) -> List[widgets.Widget]:
        subs = [
            self._nodes.get(("agent", p)) or self._agent_node(p) for p in self._children_paths(path)
        ]
        sessions = [
            self._nodes.get(("session", path, s)) or self._session_node(path, s)
            for s in self._sessions(path)
        ]
        return [*subs, *sessions]

    def _session_node(self, path: str, session_id: Any) -> _Node:
        node = _Node(lambda: self._page_widgets(path, session_id), indent=1)
        self._nodes[("session", path, session_id)] = node
        self._label_session(path, session_id)
        return node

    def _label_agent(self, path: str) -> None:
        agent = self.paths[path]
        name = path or (getattr(agent, "name", None) or "agent")
        sessions = len(self._sessions(path))
        self._nodes[
            ("agent", path)
        ].toggle.description = (
            f"{name} ({type(agent).__name__}) — {sessions} session{'s' * (sessions != 1)}"
        )

    def _label_session(self, path: str, session_id: Any) -> None:
        count = len(self._messages(path, session_id))
        self._nodes[
            ("session", path, session_id)
        ].toggle.description = f"session {session_id!r} — {count} message{'s' * (count != 1)}"

    # -- one page of messages ------------------------------------------------------------------

    def _page_widgets(self, path: str, session_id: Any) -> List[widgets.Widget]:
        key = (path, session_id)
        msgs = self._messages(path, session_id)
        pages = max(1, -(-len(msgs) // self.page_size))
        page = min(self._pages.get(key, pages - 1), pages - 1)  # new sessions open at the end
        self._pages[key] = page
        start = page * self.page_size
        shown = msgs[start : start + self.page_size]
        view = widgets.HTML("".join(message_html(start + i, m) for i, m in enumerate(shown)))
        if pages == 1:
            return [view]
        prev = widgets.Button(description="◀", disabled=page == 0, layout={"width": "3em"})
        nxt = widgets.Button(description="▶", disabled=page == pages - 1, layout={"width": "3em"})
        label = widgets.Label(f"page {page + 1}/{pages} ({len(msgs)} messages)")
        prev.on_click(lambda _: self.show_page(path, session_id, page - 1))
        nxt.on_click(lambda _: self.show_page(path, session_id, page + 1))
        return [widgets.HBox([prev, label, nxt]), view]

    def show_page(self, path: str, session_id: Any, page: int) -> None:
        """Show page ``page`` (0-based) of a session's messages."""
        self._pages[(path, session_id)] = max(0, page)
        node = self._nodes.get(("session", path, session_id))
        if node is not None and node.expanded:
            node.refresh_body()

    def node(self, path: str = "", session_id: Any = None) -> _Node:
        """The row of a sub-agent (``session_id=None``) or of one of its sessions."""
        if session_id is None:
            return self._nodes[("agent", path)]
        return self._nodes[("session", path, session_id)]

    # -- live updates --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the labels and the open nodes from the memories as they are now."""
        with self._lock:
            self._update_senders()
            for key, node in list(self._nodes.items()):
                if key[0] == "agent":
                    self._label_agent(key[1])
                else:
                    self._label_session(key[1], key[2])
                if node.expanded:
                    node.refresh_body()

    def _on_memory(self, event: Any) -> None:
        if self._throttle.due(0):
            self.refresh()
        elif self._pending is None:  # coalesce a burst into one trailing refresh
            self._pending = threading.Timer(self.refresh_interval, self._flush)
            self._pending.daemon = True
            self._pending.start()

    def _flush(self) -> None:
        self._pending = None
        self.refresh()

    def _update_senders(self) -> None:
        senders = set()
        for path in self.paths:
            for sid in self._sessions(path):
                senders.update(str(m.sender) for m in session_messages(self.paths[path], sid))
        options = [ALL_SENDERS, *sorted(senders)]
        if self.sender_filter.value not in options:
            options.append(self.sender_filter.value)
        if list(self.sender_filter.options) != options:
            self.sender_filter.options = options

    def close(self) -> None:
        for handle in getattr(self, "_handles", []):  # Widget.__del__ may call this early
            handle.remove()
        if getattr(self, "_pending", None) is not None:
            self._pending.cancel()
        super().close()

    # -- export --------------------------------------------------------------------------------

    def export(self, path: Optional[str | os.PathLike] = None) -> dict:
        """Every memory as ``{agent_path: {session: [message dicts]}}``; written if ``path``."""
        data = {
            (p or "."): {
                str(sid): [m.model_dump() for m in session_messages(self.paths[p], sid)]
                for sid in self._sessions(p)
            }
            for p in self.paths
            if self.paths[p].memory is not None
        }
        if path is not None:
            write_json(path, data)
        return data

    def _export_clicked(self) -> None:
        try:
            self.export(self.export_path.value)
        except (OSError, TypeError) as exc:
            self.status.value = (
                f"<span style='color:#c0392b'>export failed: {html.escape(str(exc))}</span>"
            )
        else:
            self.status.value = f"exported to {html.escape(self.export_path.value)}"
