"""Code-execution actions backed by sibling Jupyter kernels, one kernel per session.

lagent's four interpreters keep their names, constructor arguments and ``run(command,
timeout)`` call; underneath, every ``(action instance, session_id)`` runs in its own isolated,
resource-limited kernel (:mod:`lagent_nb.kernels`), for the sync and the async classes alike.
The session reaches ``run`` as its ``session_id`` parameter, which ``ActionExecutor`` fills in.

What the LLM reads: stdout, stderr, the cell's value and the error, cut to ``max_out_len``
(head and tail kept).  ``ActionReturn.result`` is::

    [{'type': 'text', 'content': <that text>, 'outputs': [<nbformat outputs>]},
     {'type': 'image', 'content': <png/jpeg path in the session dir>, 'mime_type': ...,
      'data': <base64>}, ...]

``outputs`` lists every output in nbformat v4 shape (``stream``, ``execute_result``,
``display_data`` with all mime types, ``error``), so the notebook layer can display exactly
what the kernel produced; image items keep the picture both as a file and inline.
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Type

from lagent_nb.kernels import Execution, KernelSessions, default_kernels
from lagent_nb.schema import ActionReturn, ActionStatusCode

from .base_action import AsyncActionMixin, BaseAction, tool_api
from .parser import BaseParser, JsonParser

_FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"`([^`]*)`")
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}


def extract_code(text: str) -> str:
    """The code in a model's message: a fenced block, else inline backticks, else a
    JSON5 object's ``code`` field, else the text itself (lagent's order)."""
    for pattern in (_FENCED, _INLINE):
        match = pattern.search(text)
        if match:
            return match.group(1)
    if text.lstrip().startswith("{"):
        import json5

        try:
            payload = json5.loads(text)
        except ValueError:
            return text
        if isinstance(payload, dict) and isinstance(payload.get("code"), str):
            return payload["code"]
    return text


def clip(text: str, limit: Optional[int]) -> str:
    """Keep the head and the tail of ``text`` within ``limit`` characters (None: no limit)."""
    if limit is None or len(text) <= limit:
        return text
    marker = f"\n... [{len(text) - limit} characters omitted] ...\n"
    half = max(0, (limit - len(marker)) // 2)
    return text[:half] + marker + text[len(text) - half :]


def llm_text(execution: Execution) -> str:
    """stdout, stderr, the value and the error, in the order a reader expects."""
    parts = [execution.logs.stdout.rstrip("\n"), execution.logs.stderr.rstrip("\n")]
    if execution.text is not None:
        parts.append(execution.text)
    if execution.error is not None:
        parts.append(str(execution.error))
    return "\n".join(p for p in parts if p)


def nbformat_outputs(execution: Execution) -> List[Dict[str, Any]]:
    """The execution as nbformat v4 outputs (streams first, then rich outputs, then the error)."""
    outputs: List[Dict[str, Any]] = []
    for name in ("stdout", "stderr"):
        text = getattr(execution.logs, name)
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    for result in execution.results:
        output = {"data": result.data, "metadata": result.metadata}
        if result.is_main_result:
            output.update(output_type="execute_result", execution_count=execution.execution_count)
        else:
            output["output_type"] = "display_data"
        outputs.append(output)
    if execution.error is not None:
        outputs.append(
            {
                "output_type": "error",
                "ename": execution.error.name,
                "evalue": execution.error.value,
                "traceback": execution.error.traceback.splitlines(),
            }
        )
    return outputs


def save_images(execution: Execution, directory: Path) -> List[Dict[str, Any]]:
    """Write every PNG/JPEG output to ``directory`` and return the image items."""
    items = []
    for result in execution.results:
        for mime, suffix in _IMAGE_TYPES.items():
            data = result.data.get(mime)
            if not isinstance(data, str):
                continue
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{uuid.uuid4().hex[:12]}.{suffix}"
            path.write_bytes(base64.b64decode(data))
            items.append({"type": "image", "content": str(path), "mime_type": mime, "data": data})
            break  # one picture per output: the PNG when both exist
    return items


class _KernelCodeAction:
    """The decisions shared by the four interpreters; subclasses only do the waiting."""

    def _setup_kernels(
        self, timeout: Optional[float], max_out_len: Optional[int], kernels: Optional[Any]
    ) -> None:
        self.timeout = timeout
        self._max_out_len = max_out_len if max_out_len is not None and max_out_len >= 0 else None
        self._kernels: KernelSessions = kernels or default_kernels()
        # Sessions belong to this instance: two interpreters never share a kernel.
        self._owner = f"{type(self).__name__}-{uuid.uuid4().hex[:8]}"
        self._session_ids: set = set()

    def _request(self, command: str, timeout: Optional[float], session_id: Any):
        session_id = 0 if session_id is None else session_id
        self._session_ids.add(session_id)
        return dict(
            code=extract_code(command),
            session_id=session_id,
            owner=self._owner,
            timeout=timeout or self.timeout,
        )

    def _image_dir(self, session_id: Any) -> Path:
        return self._kernels.work_dir(session_id, self._owner) / "images"

    def _action_return(self, command: str, execution: Execution, session_id: Any) -> ActionReturn:
        text = clip(llm_text(execution), self._max_out_len)
        items = [{"type": "text", "content": text, "outputs": nbformat_outputs(execution)}]
        items += save_images(execution, self._image_dir(0 if session_id is None else session_id))
        action_return = ActionReturn(args={"text": command}, type=self.name, result=items)
        if execution.error is not None:
            action_return.errmsg = text
            action_return.state = ActionStatusCode.API_ERROR
        return action_return

    def work_dir(self, session_id: Any = 0) -> Path:
        """The session's working directory (the kernel's cwd; images are saved below it)."""
        return self._kernels.work_dir(session_id, self._owner)


class IPythonInteractive(_KernelCodeAction, BaseAction):
    """Run Python code in a stateful IPython kernel; the result, output and errors come back.

    Args:
        timeout: seconds a call may run before the kernel is interrupted.
        max_out_len: characters of output returned to the model (negative: unlimited).
        use_signals: accepted for lagent compatibility; a sibling kernel needs no signals.
        description: overrides the tool description.
        parser: the input parser class.
        kernels: the :class:`~lagent_nb.kernels.KernelSessions` to use (default: shared one).
    """

    def __init__(
        self,
        timeout: int = 30,
        max_out_len: int = 8192,
        use_signals: bool = True,
        description: Optional[dict] = None,
        parser: Type[BaseParser] = JsonParser,
        *,
        kernels: Optional[KernelSessions] = None,
    ) -> None:
        super().__init__(description, parser)
        self._setup_kernels(timeout, max_out_len, kernels)

    @tool_api(exclude_arguments=["session_id"])
    def run(
        self, command: str, timeout: Optional[int] = None, session_id: Optional[str] = None
    ) -> ActionReturn:
        """Execute Python code in a persistent IPython session and report what it produced.

        Args:
            command (:class:`str`): the Python code to run
            timeout (:class:`Optional[int]`): seconds before the run is interrupted
        """
        execution = self._kernels.execute(**self._request(command, timeout, session_id))
        return self._action_return(command, execution, session_id)

    def reset(self, session_id: Optional[Any] = None) -> None:
        """Forget the variables of one session, or of all of this action's sessions."""
        for sid in self._sessions_to(session_id):
            self._kernels.reset(sid, self._owner)

    def close_session(self, session_id: Any = 0) -> None:
        """Stop the session's kernel and delete its state; other sessions are untouched."""
        self._session_ids.discard(session_id)
        self._kernels.close_session(session_id, self._owner)

    def _sessions_to(self, session_id: Optional[Any]) -> List[Any]:
        return list(self._session_ids) if session_id is None else [session_id]


class IPythonInterpreter(IPythonInteractive):
    """Run Python code in a stateful Jupyter kernel; the result, output and errors come back.

    Args:
        timeout: seconds a call may run before the kernel is interrupted.
        user_data_dir: accepted for lagent compatibility (the kernel starts in the session's
            own working directory instead).
        work_dir: where images are written; default: ``images/`` in the session's directory.
        description: overrides the tool description.
        parser: the input parser class.
        max_out_len: characters of output returned to the model (negative: unlimited).
        kernels: the :class:`~lagent_nb.kernels.KernelSessions` to use (default: shared one).
    """

    def __init__(
        self,
        timeout: int = 20,
        user_data_dir: str = "ENV",
        work_dir: Optional[str] = None,
        description: Optional[dict] = None,
        parser: Type[BaseParser] = JsonParser,
        *,
        max_out_len: int = 8192,
        kernels: Optional[KernelSessions] = None,
    ) -> None:
        super().__init__(
            timeout, max_out_len, description=description, parser=parser, kernels=kernels
        )
        self.user_data_dir = user_data_dir
        self.images_dir = Path(work_dir).resolve() if work_dir else None

    def _image_dir(self, session_id: Any) -> Path:
        return self.images_dir or super()._image_dir(session_id)


class AsyncIPythonInteractive(AsyncActionMixin, IPythonInteractive):
    """The awaitable :class:`IPythonInteractive`: concurrent sessions run concurrently.

    ``reset`` and ``close_session`` stay blocking, as in lagent (they only stop kernels).
    """

    @tool_api(exclude_arguments=["session_id"])
    async def run(
        self, command: str, timeout: Optional[int] = None, session_id: Optional[str] = None
    ) -> ActionReturn:
        """Execute Python code in a persistent IPython session and report what it produced.

        Args:
            command (:class:`str`): the Python code to run
            timeout (:class:`Optional[int]`): seconds before the run is interrupted
        """
        execution = await self._kernels.aexecute(**self._request(command, timeout, session_id))
        return self._action_return(command, execution, session_id)


class AsyncIPythonInterpreter(AsyncActionMixin, IPythonInterpreter):
    """The awaitable :class:`IPythonInterpreter`, with lagent's session methods.

    ``max_kernels``, ``reuse_kernel``, ``startup_rate`` and ``connection_dir`` are accepted
    for compatibility; kernels are managed by :class:`~lagent_nb.kernels.KernelSessions`.
    """

    def __init__(
        self,
        timeout: int = 20,
        user_data_dir: str = "ENV",
        work_dir: Optional[str] = None,
        max_kernels: Optional[int] = None,
        reuse_kernel: bool = True,
        startup_rate: bool = 32,
        connection_dir: Optional[str] = None,
        description: Optional[dict] = None,
        parser: Type[BaseParser] = JsonParser,
        *,
        max_out_len: int = 8192,
        kernels: Optional[KernelSessions] = None,
    ) -> None:
        super().__init__(
            timeout,
            user_data_dir,
            work_dir,
            description,
            parser,
            max_out_len=max_out_len,
            kernels=kernels,
        )

    run = AsyncIPythonInteractive.run

    async def reset(self, session_id: Optional[Any] = None) -> None:
        """Forget the variables of one session, or of all of this action's sessions."""
        for sid in self._sessions_to(session_id):
            await self._kernels.areset(sid, self._owner)

    async def close_session(self, session_id: Any = 0) -> None:
        """Stop the session's kernel and delete its state; other sessions are untouched."""
        self._session_ids.discard(session_id)
        await self._kernels.aclose_session(session_id, self._owner)

    async def initialize(self, session_id: Any) -> None:
        """Start the session's kernel now rather than on its first call."""
        await self._kernels.aexecute(**self._request("", None, session_id))

    async def shutdown(self, session_id: Any) -> None:
        """Stop the session's kernel (lagent's name for :meth:`close_session`)."""
        await self.close_session(session_id)
