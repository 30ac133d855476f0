"""``%%agent``, ``%agent`` and ``%agent_reset``: talk to agents from notebook cells."""

from __future__ import annotations

import difflib
import json
import re
import shlex
import sys
from typing import Any, List, Optional

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser, argument, magic_arguments
from IPython.display import display
from traitlets import Bool, Enum, Float, Int, Unicode, Union

from lagent_nb.notebook import activity, lookup
from lagent_nb.notebook.display import Transcript, entry_markdown, entry_text, transcript_entry
from lagent_nb.notebook.interpolate import interpolate
from lagent_nb.notebook.runner import ASYNC, ASYNC_STREAM, Throttle, Turn, run_blocking, start_task
from lagent_nb.notebook.state_file import load_state, save_state
from lagent_nb.schema import AgentMessage

FORMATS = ("markdown", "text", "code", "json")
SUBCOMMANDS = ("list", "show", "save", "load", "stop")
_CODE_BLOCK = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.S)


def session_id(text: str) -> Any:
    """Session ids are ints when they look like ints (lagent's default is 0), else strings."""
    return int(text) if re.fullmatch(r"-?\d+", text.strip()) else text


def _timeout(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _parser(prog: str, *arguments: tuple) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=prog)
    for args, kwargs in arguments:
        parser.add_argument(*args, **kwargs)
    return parser


_SESSION = (("-s", "--session"), dict(type=session_id, default=None, help="session id"))
_NAME = (("name",), dict(help="agent name in the namespace, or a dotted sub-agent path"))
_FILE = (("file",), dict(help="JSON file (UTF-8)"))
_SUBPARSERS = {
    "list": _parser("%agent list"),
    "show": _parser("%agent show", _NAME, _SESSION),
    "save": _parser("%agent save", _NAME, _FILE, _SESSION),
    "load": _parser("%agent load", _NAME, _FILE, _SESSION),
    "stop": _parser(
        "%agent stop", (("name",), dict(nargs="?", help="agent to stop (default: all)"))
    ),
}


def parse_line(parser_owner: Any, line: str) -> Any:
    """Parse a magic's argument line; every malformed input becomes a ``UsageError``.

    Words are split POSIX-style, so quoted paths with spaces arrive without their quotes.
    """
    parser = getattr(parser_owner, "parser", parser_owner)
    try:
        argv = shlex.split(line)
    except ValueError as exc:  # unbalanced quotes, a trailing escape
        raise UsageError(f"cannot split the arguments {line!r}: {exc}") from None
    return parser.parse_args(argv)


def extract_code(text: str) -> str:
    """The code blocks of a reply, joined; the whole reply when it has none."""
    blocks = _CODE_BLOCK.findall(text)
    return "\n\n".join(b.rstrip("\n") for b in blocks) if blocks else text


def turn_messages(agent: Any, sid: Any, start: int, message: str, reply: Any) -> List[Any]:
    """The messages one turn added to the agent's memory (the view is derived from memory)."""
    added = lookup.session_messages(agent, sid)[start:]
    if added or reply is None:
        return added
    return [AgentMessage(content=message), reply]  # an agent without memory of its own


class CellView:
    """The cell's output for one turn: one display, updated in place while streaming.

    ``metadata`` (agent and session) goes with every update, so front ends and saved
    notebooks can tell which conversation an output belongs to.
    """

    def __init__(self, metadata: Optional[dict] = None) -> None:
        self.handle: Any = None
        self.metadata = metadata or {}

    def show(self, bundle: dict) -> None:
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True, metadata=self.metadata)
        else:
            self.handle.update(bundle, raw=True, metadata=self.metadata)

    def stream(self, chunk: Any) -> None:
        """Only the message being streamed is re-sent, never the conversation before it."""
        entry = transcript_entry(chunk)
        self.show({"text/plain": entry_text(entry), "text/markdown": entry_markdown(entry)})


@magics_class
class AgentMagics(Magics):
    """Magics that send cells to lagent_nb agents; configure with ``%config AgentMagics``."""

    default_session = Union(
        [Int(), Unicode()], default_value=0, help="session used when -s is not given"
    ).tag(config=True)
    stream = Bool(True, help="stream replies of streaming agents into the cell").tag(config=True)
    update_interval = Float(
        0.05, help="minimum seconds between two display updates while streaming"
    ).tag(config=True)
    max_bytes_per_second = Float(
        100_000.0, help="cap on the bytes a stream re-sends per second (0: no cap)"
    ).tag(config=True)
    default_format = Enum(FORMATS, "markdown", help="output format when -f is not given").tag(
        config=True
    )
    default_timeout = Float(
        None, allow_none=True, help="seconds before a turn is stopped (None: no limit)"
    ).tag(config=True)
    interpolate = Bool(True, help="replace {name}, {In[n]}, {Out[n]} in cells").tag(config=True)

    @no_var_expand
    @magic_arguments()
    @argument("name", nargs="?", help="agent name in the namespace, or a dotted sub-agent path")
    @argument("-s", "--session", type=session_id, default=None, help="session id")
    @argument("-o", "--output", default=None, help="store the reply message in this variable")
    @argument("--no-stream", action="store_true", help="show only the final reply")
    @argument("--timeout", type=_timeout, default=None, help="stop the turn after S seconds")
    @argument("-f", "--format", choices=FORMATS, default=None, help="how to show the reply")
    @argument("--bg", action="store_true", help="run an async agent in the background")
    @argument("--no-interpolate", action="store_true", help="send {braces} as written")
    @line_cell_magic
    def agent(self, line: str, cell: Optional[str] = None) -> None:
        """Send the cell to an agent: ``%%agent NAME [options]``, the body is the message.

        ``{name}``, ``{In[3]}`` and ``{Out[3]}`` in the body are replaced by their values when
        they exist; other braces stay as written. ``-f code`` puts the reply's code in a new
        cell below. ``--bg`` returns at once while an async agent works; stop it with
        ``%agent stop`` or a ChatPanel's Stop button. Kernel interrupt (■) stops a turn.

        Line form: ``%agent list`` (agents, sessions, message counts), ``%agent show NAME
        [-s ID]``, ``%agent save NAME FILE [-s ID]``, ``%agent load NAME FILE [-s ID]``,
        ``%agent stop [NAME]``.
        """
        if cell is None:
            return self._subcommand(line)
        return self._run_cell(parse_line(self.agent, line), cell)

    @no_var_expand
    @magic_arguments()
    @argument("name", nargs="?", help="agent to reset (every agent with --all and no name)")
    @argument("-s", "--session", type=session_id, default=None, help="session to forget")
    @argument("--all", action="store_true", help="every session (of every agent without NAME)")
    @line_magic
    def agent_reset(self, line: str) -> None:
        """Forget a session of an agent and of all its sub-agents."""
        args = parse_line(self.agent_reset, line)
        if args.all and args.session is not None:
            raise UsageError("give either -s ID or --all, not both")
        if args.name is None and args.all:
            targets = [agent for _, agent in lookup.namespace_agents(self.shell.user_ns)]
        elif args.name is None:
            raise UsageError("name the agent to reset (%agent_reset NAME), or pass --all")
        else:
            targets = [lookup.resolve(self.shell.user_ns, args.name)]
        for agent in targets:
            sessions = lookup.session_ids(agent) if args.all else [self._session(args)]
            for sid in sessions:
                agent.reset(session_id=sid, recursive=True)

    # -- %%agent ------------------------------------------------------------------------------

    def _session(self, args: Any) -> Any:
        return args.session if args.session is not None else self.default_session

    def _run_cell(self, args: Any, cell: str) -> None:
        if not args.name:
            raise UsageError("name the agent: %%agent NAME [options] (see %agent?)")
        agent = lookup.resolve(self.shell.user_ns, args.name)
        use_interpolation = self.interpolate and not args.no_interpolate
        cell = cell.strip("\n")  # IPython adds a newline; blank edges are not part of a message
        message = interpolate(cell, self.shell.user_ns) if use_interpolation else cell
        if not message.strip():
            raise UsageError(f"the cell is empty: write the message for {args.name} below %%agent")
        sid = self._session(args)
        start = len(lookup.session_messages(agent, sid))
        view = CellView({"lagent_nb": {"agent": args.name, "session_id": str(sid)}})
        turn = Turn(
            agent,
            message,
            session_id=sid,
            stream=self.stream and not args.no_stream,
            timeout=args.timeout if args.timeout is not None else self.default_timeout,
            on_update=view.stream,
            throttle=Throttle(self.update_interval, self.max_bytes_per_second),
            label=args.name,
        )

        def finish(reply: Any, error: Optional[BaseException] = None) -> None:
            if error is not None:  # a background turn: the cell has ended, report in place
                view.show({"text/plain": f"{type(error).__name__}: {error}"})
                return
            self._show(view, args, turn_messages(agent, sid, start, message, reply), reply)

        if args.bg:
            if turn.kind not in (ASYNC, ASYNC_STREAM):
                raise UsageError(
                    f"--bg runs async agents; {args.name} is a sync agent. Drop --bg, or use "
                    "ChatPanel, which runs sync agents on a worker thread."
                )
            view.show({"text/plain": f"{args.name} is working in the background…"})
            start_task(turn, finish)
            return None
        finish(run_blocking(turn))
        return None

    def _show(self, view: CellView, args: Any, messages: List[Any], reply: Any) -> None:
        if args.output:
            self.shell.user_ns[args.output] = reply
        fmt = args.format or self.default_format
        content = str(getattr(reply, "content", reply))
        if fmt == "text":
            view.show({"text/plain": content})
            return
        if fmt == "json":
            try:
                data = json.loads(extract_code(content))
            except ValueError:
                print(f"{args.name}'s reply is not valid JSON; shown as text.", file=sys.stderr)
                view.show({"text/plain": content})
                return
            view.show({"application/json": data, "text/plain": json.dumps(data, indent=2)})
            return
        view.show(Transcript(messages, args.name, self._session(args))._repr_mimebundle_())
        if fmt == "code":
            self.shell.set_next_input(extract_code(content), replace=False)

    # -- %agent SUBCOMMAND ----------------------------------------------------------------------

    def _subcommand(self, line: str) -> None:
        command, _, rest = line.strip().partition(" ")
        if command not in _SUBPARSERS:
            close = difflib.get_close_matches(command, SUBCOMMANDS, n=1)
            hint = f" Did you mean %agent {close[0]}?" if close else ""
            raise UsageError(
                f"unknown subcommand {command!r}.{hint} Use %agent {'|'.join(SUBCOMMANDS)}, "
                "or %%agent NAME as a cell magic (see %agent?)."
            )
        args = parse_line(_SUBPARSERS[command], rest)
        getattr(self, f"_cmd_{command}")(args)

    def _cmd_list(self, args: Any) -> None:
        rows = []
        for name, agent in lookup.namespace_agents(self.shell.user_ns):
            sessions = lookup.session_ids(agent)
            counts = ", ".join(f"{s}: {lookup.message_count(agent, s)}" for s in sessions)
            subs = [p for p, _ in lookup.walk(agent) if p]
            kind = lookup.agent_kind(agent)
            rows.append((name, type(agent).__name__, kind, ", ".join(subs), counts or "none"))
        if not rows:
            display({"text/plain": "No agents defined.", "text/markdown": "No agents defined."})
            return
        header = ("name", "class", "kind", "sub-agents", "messages per session")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += [
            "| " + " | ".join(f"`{c}`" if i == 0 else c for i, c in enumerate(r)) + " |"
            for r in rows
        ]
        plain = "\n".join("  ".join(str(c) for c in r) for r in [header, *rows])
        display({"text/plain": plain, "text/markdown": "\n".join(lines)}, raw=True)

    def _cmd_show(self, args: Any) -> None:
        agent = lookup.resolve(self.shell.user_ns, args.name)
        sid = self._session(args)
        display(Transcript(lookup.session_messages(agent, sid), args.name, sid))

    def _cmd_save(self, args: Any) -> None:
        agent = lookup.resolve(self.shell.user_ns, args.name)
        try:
            count = save_state(agent, args.file, self._session(args))
        except (OSError, TypeError) as exc:
            raise UsageError(f"cannot save {args.name} to {args.file}: {exc}") from None
        sid = self._session(args)
        print(f"saved {count} messages of {args.name} (session {sid!r}) to {args.file}")

    def _cmd_load(self, args: Any) -> None:
        agent = lookup.resolve(self.shell.user_ns, args.name)
        try:
            count = load_state(agent, args.file, self._session(args))
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"cannot load {args.file} into {args.name}: {exc}") from None
        print(f"loaded {count} messages into {args.name} (session {self._session(args)!r})")

    def _cmd_stop(self, args: Any) -> None:
        agent = lookup.resolve(self.shell.user_ns, args.name) if args.name else None
        stopped = sum(run.cancel() for run in activity.running(agent))
        print(f"stopped {stopped} turn(s)" if stopped else "nothing is running")
