"""A real OpenAI-compatible HTTP server on 127.0.0.1, scripted, for tests and benchmarks.

It speaks enough of the chat-completions protocol (JSON and SSE streaming, usage, errors in
OpenAI's shape) for the official ``openai`` client, plus the legacy ``/v1/completions`` that
LMDeploy's server offers, and it can misbehave on purpose: HTTP 500, 429 with ``Retry-After``,
quota errors, malformed JSON, streams cut mid-way, or no answer at all. Each connection gets its
own thread, so hundreds of concurrent requests are served in parallel, and every request is
recorded (headers included) for assertions.

Stop words in a request are deliberately ignored, like some real servers do, so tests can see
the client cut them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

from lagent_nb.testing.scripted import split_chunks

Reply = Union[str, dict]
ReplySource = Union[Sequence[Reply], Callable[[dict], Reply], None]

#: Fault modes understood by ``OpenAIServer.fail``.
FAULTS = (
    "http_500",  # 500 with an OpenAI-style error body
    "http_429",  # 429 rate limit with a Retry-After header
    "insufficient_quota",  # 429 whose error code retires the key
    "http_401",  # bad key
    "malformed_json",  # 200 whose body is not JSON
    "stream_cut",  # streams half of the reply, then drops the connection
    "hang",  # reads the request and never answers (until the server stops)
    "drop",  # closes the connection without any response
)


# Faults answered with an OpenAI-style error body: fault -> (status, message, error code).
_ERROR_REPLIES = {
    "http_500": (500, "scripted internal error", "server_error"),
    "http_429": (429, "scripted rate limit", "rate_limit_exceeded"),
    "insufficient_quota": (429, "scripted: quota exhausted", "insufficient_quota"),
    "http_401": (401, "scripted: invalid api key", "invalid_api_key"),
}


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class _FaultPlan:
    mode: str | None = None
    remaining: int | None = None  # None: every request until cleared
    retry_after: float = 1.0

    def take(self) -> str | None:
        if self.mode is None:
            return None
        mode = self.mode
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining = None, None
        return mode


@dataclass
class _State:
    replies: ReplySource
    delay: float
    chunk_size: int | None
    model: str
    chunk_delay: float
    fault: _FaultPlan = field(default_factory=_FaultPlan)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    next_reply: int = 0
    active: int = 0
    peak_active: int = 0


def _count_words(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, code: str, headers: dict | None = None):
        error = {"message": message, "type": code, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _read_body(self) -> Any:
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    # -- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        state = self.server.state
        self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": state.model, "object": "model", "created": 0, "owned_by": "lagent-nb"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route for GET {self.path}", "not_found")

    def do_POST(self) -> None:
        state = self.server.state
        body = self._read_body()
        self._record(body)
        if not self.path.rstrip("/").endswith("/completions"):
            self._send_error(404, f"no route for POST {self.path}", "not_found")
            return
        # ``/v1/completions`` (prompt in, ``choices[0].text`` out) serves LMDeploy-style clients.
        self.legacy = not self.path.rstrip("/").endswith("/chat/completions")
        with state.lock:
            fault = state.fault.take()
            retry_after = state.fault.retry_after
            state.active += 1
            state.peak_active = max(state.peak_active, state.active)
        try:
            self._serve_completion(body if isinstance(body, dict) else {}, fault, retry_after)
        finally:
            with state.lock:
                state.active -= 1

    def _record(self, body: Any) -> None:
        state = self.server.state
        headers = {key.lower(): value for key, value in self.headers.items()}
        entry = RecordedRequest(self.command, self.path, headers, body)
        with state.lock:
            state.requests.append(entry)

    def _serve_completion(self, body: dict, fault: str | None, retry_after: float) -> None:
        state = self.server.state
        if fault == "hang":
            state.stopping.wait()
            self.close_connection = True
            return
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if state.delay:
            time.sleep(state.delay)
        if fault in _ERROR_REPLIES:
            status, message, code = _ERROR_REPLIES[fault]
            headers = {"Retry-After": f"{retry_after:g}"} if fault == "http_429" else None
            self._send_error(status, message, code, headers)
            return
        if fault == "malformed_json":
            data = b'{"choices": [{"message": '
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        try:
            reply = self.server.next_reply(body)
        except IndexError as error:
            self._send_error(500, str(error), "script_exhausted")
            return
        if body.get("stream"):
            self._stream(body, reply, cut=fault == "stream_cut")
        elif self.legacy:
            self._send_json(200, self.server.text_completion(body, reply))
        else:
            self._send_json(200, self.server.completion(body, reply))

    def _stream(self, body: dict, reply: dict, *, cut: bool) -> None:
        state = self.server.state
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = split_chunks(reply["content"], state.chunk_size)
        if cut:
            pieces = pieces[: max(1, len(pieces) // 2)]
        events = self.server.text_stream_events if self.legacy else self.server.stream_events
        for event in events(body, reply, pieces, finished=not cut):
            self._chunk(f"data: {event}\n\n".encode())
            if state.chunk_delay:
                time.sleep(state.chunk_delay)
        if cut:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: the bench opens 256 connections at once
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: _State):
        super().__init__(address, _Handler)
        self.state = state

    def next_reply(self, body: dict) -> dict:
        state = self.state
        if state.replies is None:
            messages = body.get("messages") or [{"content": body.get("prompt", "")}]
            reply: Reply = f"echo: {messages[-1].get('content', '')}"
        elif callable(state.replies):
            reply = state.replies(body)
        else:
            with state.lock:
                if state.next_reply >= len(state.replies):
                    raise IndexError(
                        f"OpenAIServer ran out of scripted replies ({len(state.replies)} used)"
                    )
                reply = state.replies[state.next_reply]
                state.next_reply += 1
        return {"content": reply} if isinstance(reply, str) else dict(reply)

    def _envelope(self, body: dict, kind: str) -> dict:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": kind,
            "created": int(time.time()),
            "model": body.get("model") or self.state.model,
        }

    @staticmethod
    def _usage(body: dict, content: str) -> dict:
        prompt, completion = _count_words(body.get("messages")), len(content.split())
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def completion(self, body: dict, reply: dict) -> dict:
        message = {"role": "assistant", "content": reply["content"]}
        if reply.get("tool_calls"):
            message["tool_calls"] = reply["tool_calls"]
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": reply.get("finish_reason", "stop"),
            "logprobs": None,
        }
        return {
            **self._envelope(body, "chat.completion"),
            "choices": [choice],
            "usage": self._usage(body, reply["content"]),
        }

    def text_completion(self, body: dict, reply: dict) -> dict:
        """A ``/v1/completions`` answer: the reply as ``choices[0].text``."""
        choice = {"index": 0, "text": reply["content"], "finish_reason": "stop", "logprobs": None}
        return {**self._envelope(body, "text_completion"), "choices": [choice]}

    def text_stream_events(self, body: dict, reply: dict, pieces: list[str], *, finished: bool):
        """The SSE payloads of a streamed ``/v1/completions`` answer."""
        envelope = self._envelope(body, "text_completion")
        for piece in pieces:
            choice = {"index": 0, "text": piece, "finish_reason": None}
            yield json.dumps({**envelope, "choices": [choice]})
        if finished:
            choice = {"index": 0, "text": "", "finish_reason": "stop"}
            yield json.dumps({**envelope, "choices": [choice]})

    def stream_events(self, body: dict, reply: dict, pieces: list[str], *, finished: bool):
        """The SSE ``data:`` payloads for a streamed reply, in OpenAI's chunk format."""
        envelope = self._envelope(body, "chat.completion.chunk")

        def event(delta: dict, finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return json.dumps({**envelope, "choices": [choice], **extra})

        yield event({"role": "assistant", "content": ""})
        for piece in pieces:
            yield event({"content": piece})
        if not finished:
            return
        for index, call in enumerate(reply.get("tool_calls") or []):
            yield event({"tool_calls": [{"index": index, **call}]})
        yield event({}, reply.get("finish_reason", "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = self._usage(body, reply["content"])
            yield json.dumps({**envelope, "choices": [], "usage": usage})


class OpenAIServer:
    """A scripted OpenAI-compatible server in a background thread.

    ``replies``: ``None`` (echo the last user message), a list of replies used in order (then
    HTTP 500 saying the script ran out) or a callable receiving the request body. A reply is a
    string, or a dict with ``content`` and optionally ``tool_calls`` / ``finish_reason``.
    ``delay`` seconds pass before each answer; ``chunk_size`` splits streamed replies as
    ``ScriptedLLM`` does. Use it as a context manager; ``base_url`` ends in ``/v1``.
    """

    def __init__(
        self,
        replies: ReplySource = None,
        *,
        delay: float = 0.0,
        chunk_size: int | None = None,
        chunk_delay: float = 0.0,
        model: str = "scripted-model",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if not callable(replies) and replies is not None:
            replies = list(replies)
        self._state = _State(replies, delay, chunk_size, model, chunk_delay)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"OpenAIServer({where}, requests={len(self._state.requests)})"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        if self._server is None:
            self._state.stopping.clear()
            self._server = _Server(self._address, self._state)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"OpenAIServer:{self._server.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, release hanging handlers and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._state.stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OpenAIServer is not running: call start() or use `with`")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_url(self) -> str:
        """lagent's style of endpoint: the full ``…/v1/chat/completions`` URL."""
        return f"{self.base_url}/chat/completions"

    # -- script control and inspection ------------------------------------------------------

    def fail(self, mode: str | None, *, times: int | None = None, retry_after: float = 1.0):
        """Misbehave as ``mode`` (one of ``FAULTS``) for the next ``times`` requests
        (every request when ``times`` is None); ``fail(None)`` recovers."""
        if mode is not None and mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; choose one of {', '.join(FAULTS)}")
        with self._state.lock:
            self._state.fault = _FaultPlan(mode, times, retry_after)

    def set_replies(self, replies: ReplySource) -> None:
        with self._state.lock:
            self._state.replies = replies if callable(replies) or replies is None else list(replies)
            self._state.next_reply = 0

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    @property
    def peak_concurrency(self) -> int:
        """The most chat requests that were being answered at the same time."""
        return self._state.peak_active


def unused_base_url() -> str:
    """A ``…/v1`` URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m lagent_nb.testing.openai_server``: serve echo replies until stdin closes.

    Prints ``listening <base_url>`` first, so a parent process can read the address; closing
    the child's stdin (or ending the parent) stops it.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible loopback server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--chunk-size", type=int, default=None)
    args = parser.parse_args(argv)
    with OpenAIServer(delay=args.delay, chunk_size=args.chunk_size, port=args.port) as server:
        print(f"listening {server.base_url}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
