"""LMDeploy backends: an in-process pipeline, a served model, and a client of a running server.

``LMDeployPipeline`` / ``AsyncLMDeployPipeline`` drive LMDeploy's own Python engine, imported
only when a model is built (it needs an NVIDIA GPU); without it the error says how to get it.
``LMDeployClient`` / ``AsyncLMDeployClient`` talk to ``lmdeploy serve api_server``'s
``/v1/completions`` over HTTP, so they need no LMDeploy install at all, and ``LMDeployServer``
starts that server as a child process it owns and then behaves as a client.

Prompts are rendered by our meta template (as in lagent), so the engine is told not to apply
its own chat template. Differences from lagent: every request gets a fresh engine session id
(lagent reused the agent's, so two concurrent requests of one session collided), the served
model listens on 127.0.0.1 unless told otherwise, and every wait is bounded.
"""

from __future__ import annotations

import atexit
import importlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional, Union

import httpx

from lagent_nb.llms.base_llm import AsyncBaseLLM, BaseLLM, StreamItem, strip_session_keys
from lagent_nb.llms.stopping import StreamText, cut_at_stop_words
from lagent_nb.schema import ModelStatusCode
from lagent_nb.utils.secrets import scrub_environment

_engine_sessions = itertools.count(1)


def import_lmdeploy() -> Any:
    """The ``lmdeploy`` module, or an ImportError that says what to install."""
    try:
        return importlib.import_module("lmdeploy")
    except ImportError as error:
        raise ImportError(
            "LMDeployPipeline / LMDeployServer need LMDeploy, which runs with an NVIDIA GPU: "
            "`pip install 'lagent_nb[lmdeploy]'`. LMDeployClient needs only a running "
            "`lmdeploy serve api_server`."
        ) from error


def generation_kwargs(gen_params: dict, skip_special_tokens: bool = False) -> dict:
    """``GenerationConfig`` keywords from lagent-style gen params.

    LMDeploy samples greedily unless ``do_sample`` is set; like lagent, sampling is on when
    ``top_k > 1`` or ``temperature > 0``.
    """
    params = strip_session_keys(gen_params)
    names = ("max_new_tokens", "top_p", "top_k", "temperature", "repetition_penalty")
    kwargs = {name: params[name] for name in names}
    kwargs["stop_words"] = params.get("stop_words")
    kwargs["skip_special_tokens"] = skip_special_tokens
    kwargs["do_sample"] = kwargs["top_k"] > 1 or kwargs["temperature"] > 0
    return kwargs


def completions_payload(
    model_name: str, prompt: str, gen_params: dict, *, stream: bool, skip: bool = False
) -> dict:
    """The JSON body of ``POST /v1/completions`` on an LMDeploy api_server."""
    config = generation_kwargs(gen_params, skip)
    return {
        "model": model_name,
        "prompt": prompt,
        "session_id": next(_engine_sessions),
        "max_tokens": config["max_new_tokens"],
        "top_p": config["top_p"],
        "top_k": config["top_k"],
        "temperature": config["temperature"],
        "repetition_penalty": config["repetition_penalty"],
        "stop": config["stop_words"],
        "skip_special_tokens": skip,
        "stream": stream,
    }


SSE_DONE = None


def sse_piece(line: str) -> Optional[str]:
    """The ``choices[0].text`` of one SSE line: ``''`` for other lines, ``SSE_DONE`` at the end."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return SSE_DONE
    return json.loads(data)["choices"][0].get("text") or ""


def stream_update(text: StreamText, line: str) -> tuple[Optional[str], bool]:
    """Feed one SSE line to ``text``: the newly visible text (or None), and whether to stop."""
    piece = sse_piece(line)
    if piece is SSE_DONE:
        return None, True
    return text.feed(piece), text.stopped


def _shape(texts: list[str], stop_words, batched: bool) -> Union[str, list[str]]:
    texts = [cut_at_stop_words(t, stop_words) for t in texts]
    return texts if batched else texts[0]


class _PipelineSetup:
    """The engine both pipelines drive: ``pipeline_cfg`` goes to ``TurbomindEngineConfig``."""

    def __init__(
        self,
        path: str,
        model_name: Optional[str] = None,
        tp: int = 1,
        pipeline_cfg: Optional[dict] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path=path, **kwargs)
        lmdeploy = import_lmdeploy()
        backend = lmdeploy.TurbomindEngineConfig(tp=tp, **(pipeline_cfg or {}))
        self.model = lmdeploy.pipeline(path, model_name=model_name, backend_config=backend)


class LMDeployPipeline(_PipelineSetup, BaseLLM):
    """LMDeploy's in-process ``pipeline``; ``LMDeployPipeline(path, model_name=None, tp=1,
    pipeline_cfg=None, **gen_params)``. ``pipeline_cfg`` goes to ``TurbomindEngineConfig``."""

    def _config(self, params: dict, skip_special_tokens: bool) -> Any:
        return import_lmdeploy().GenerationConfig(**generation_kwargs(params, skip_special_tokens))

    def generate(
        self,
        inputs: Union[str, list[str]],
        do_preprocess: Optional[bool] = None,
        skip_special_tokens: bool = False,
        **kwargs: Any,
    ) -> Union[str, list[str]]:
        batched = not isinstance(inputs, str)
        prompts = list(inputs) if batched else [inputs]
        params = self.update_gen_params(**kwargs)
        responses = self.model(
            prompts, gen_config=self._config(params, skip_special_tokens), do_preprocess=False
        )
        return _shape([r.text for r in responses], params["stop_words"], batched)

    def stream_generate(
        self, inputs: str, skip_special_tokens: bool = False, **kwargs: Any
    ) -> Iterator[StreamItem]:
        params = self.update_gen_params(**kwargs)
        text = StreamText(params["stop_words"])
        config = self._config(params, skip_special_tokens)
        for response in self.model.stream_infer([inputs], gen_config=config, do_preprocess=False):
            visible = text.feed(response.text or "")
            if visible is not None:
                yield ModelStatusCode.STREAM_ING, visible, None
            if text.stopped:
                break
        yield ModelStatusCode.END, text.final(), None


class AsyncLMDeployPipeline(_PipelineSetup, AsyncBaseLLM):
    """LMDeploy's async engine; concurrent requests run side by side, each with its own
    engine session, and ``stream_chat`` yields text as it is generated."""

    async def _pieces(self, prompt: str, params: dict, skip: bool) -> AsyncIterator[str]:
        config = import_lmdeploy().GenerationConfig(**generation_kwargs(params, skip))
        async for output in self.model.generate(
            prompt,
            next(_engine_sessions),
            gen_config=config,
            stream_response=True,
            sequence_start=True,
            sequence_end=True,
            do_preprocess=False,
        ):
            yield output.response or ""

    async def generate(
        self,
        inputs: Union[str, list[str]],
        session_ids: Any = None,
        skip_special_tokens: bool = False,
        **kwargs: Any,
    ) -> Union[str, list[str]]:
        batched = not isinstance(inputs, str)
        prompts = list(inputs) if batched else [inputs]
        params = self.update_gen_params(**kwargs)
        texts = []
        for prompt in prompts:
            pieces = [p async for p in self._pieces(prompt, params, skip_special_tokens)]
            texts.append("".join(pieces))
        return _shape(texts, params["stop_words"], batched)

    async def stream_generate(
        self, inputs: str, skip_special_tokens: bool = False, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        params = self.update_gen_params(**kwargs)
        text = StreamText(params["stop_words"])
        async for piece in self._pieces(inputs, params, skip_special_tokens):
            visible = text.feed(piece)
            if visible is not None:
                yield ModelStatusCode.STREAM_ING, visible, None
            if text.stopped:
                break
        yield ModelStatusCode.END, text.final(), None


class _ClientCore:
    """Request building and answer reading for the HTTP clients; the twins only wait."""

    def __init__(
        self, url: str, model_name: Optional[str] = None, timeout: float = 120.0, **kwargs: Any
    ) -> None:
        super().__init__(path=url, **kwargs)
        self.url = url.rstrip("/")
        self.model_name = model_name or "default"
        self.timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))

    @property
    def completions_url(self) -> str:
        return f"{self.url}/v1/completions"

    def _error(self, exc: Exception) -> RuntimeError:
        if isinstance(exc, httpx.HTTPStatusError):
            cause = f"HTTP {exc.response.status_code}"
        else:
            cause = type(exc).__name__
        return RuntimeError(f"LMDeploy server at {self.completions_url} failed: {cause}")


class LMDeployClient(_ClientCore, BaseLLM):
    """A client of a running ``lmdeploy serve api_server`` (``url`` like
    ``http://127.0.0.1:23333``); needs no LMDeploy install."""

    def generate(
        self, inputs: Union[str, list[str]], skip_special_tokens: bool = False, **kwargs: Any
    ) -> Union[str, list[str]]:
        batched = not isinstance(inputs, str)
        params = self.update_gen_params(**kwargs)
        texts = []
        with httpx.Client(timeout=self.timeout) as client:
            for prompt in list(inputs) if batched else [inputs]:
                body = completions_payload(
                    self.model_name, prompt, params, stream=False, skip=skip_special_tokens
                )
                try:
                    response = client.post(self.completions_url, json=body)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    raise self._error(exc) from exc
                texts.append(response.json()["choices"][0]["text"])
        return _shape(texts, params["stop_words"], batched)

    def stream_generate(
        self, inputs: str, skip_special_tokens: bool = False, **kwargs: Any
    ) -> Iterator[StreamItem]:
        params = self.update_gen_params(**kwargs)
        text = StreamText(params["stop_words"])
        body = completions_payload(
            self.model_name, inputs, params, stream=True, skip=skip_special_tokens
        )
        try:
            with (
                httpx.Client(timeout=self.timeout) as client,
                client.stream("POST", self.completions_url, json=body) as response,
            ):
                response.raise_for_status()
                for line in response.iter_lines():
                    visible, done = stream_update(text, line)
                    if visible is not None:
                        yield ModelStatusCode.STREAM_ING, visible, None
                    if done:
                        break
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        yield ModelStatusCode.END, text.final(), None


class AsyncLMDeployClient(_ClientCore, AsyncBaseLLM):
    """The async twin of :class:`LMDeployClient`."""

    async def generate(
        self,
        inputs: Union[str, list[str]],
        session_ids: Any = None,
        skip_special_tokens: bool = False,
        **kwargs: Any,
    ) -> Union[str, list[str]]:
        batched = not isinstance(inputs, str)
        params = self.update_gen_params(**kwargs)
        texts = []
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for prompt in list(inputs) if batched else [inputs]:
                body = completions_payload(
                    self.model_name, prompt, params, stream=False, skip=skip_special_tokens
                )
                try:
                    response = await client.post(self.completions_url, json=body)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    raise self._error(exc) from exc
                texts.append(response.json()["choices"][0]["text"])
        return _shape(texts, params["stop_words"], batched)

    async def stream_generate(
        self, inputs: str, skip_special_tokens: bool = False, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        params = self.update_gen_params(**kwargs)
        text = StreamText(params["stop_words"])
        body = completions_payload(
            self.model_name, inputs, params, stream=True, skip=skip_special_tokens
        )
        try:
            async with (
                httpx.AsyncClient(timeout=self.timeout) as client,
                client.stream("POST", self.completions_url, json=body) as response,
            ):
                response.raise_for_status()
                async for line in response.aiter_lines():
                    visible, done = stream_update(text, line)
                    if visible is not None:
                        yield ModelStatusCode.STREAM_ING, visible, None
                    if done:
                        break
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        yield ModelStatusCode.END, text.final(), None


def start_api_server(
    path: str,
    model_name: Optional[str],
    server_name: str,
    server_port: int,
    tp: int,
    serve_cfg: Optional[dict],
    startup_timeout: float,
) -> subprocess.Popen:
    """Start ``lmdeploy serve api_server`` and wait until it answers, or fail clearly."""
    import_lmdeploy()
    command = [sys.executable, "-m", "lmdeploy", "serve", "api_server", path]
    command += ["--server-name", server_name, "--server-port", str(server_port), "--tp", str(tp)]
    if model_name:
        command += ["--model-name", model_name]
    for key, value in (serve_cfg or {}).items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    process = subprocess.Popen(command, env=scrub_environment())
    atexit.register(process.terminate)
    deadline = time.monotonic() + startup_timeout
    url = f"http://{server_name}:{server_port}/v1/models"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lmdeploy api_server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.terminate()
    raise TimeoutError(f"lmdeploy api_server did not answer at {url} in {startup_timeout} s")


class _Served:
    """Start ``lmdeploy serve api_server`` for ``path`` (a child process this object owns,
    stopped at exit), then talk to it as a client."""

    def __init__(
        self,
        path: str,
        model_name: Optional[str] = None,
        server_name: str = "127.0.0.1",
        server_port: int = 23333,
        tp: int = 1,
        serve_cfg: Optional[dict] = None,
        startup_timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        self.process = start_api_server(
            path, model_name, server_name, server_port, tp, serve_cfg, startup_timeout
        )
        super().__init__(f"http://{server_name}:{server_port}", model_name, **kwargs)


class LMDeployServer(_Served, LMDeployClient):
    """Serve ``path`` with LMDeploy and talk to it as :class:`LMDeployClient` does."""


class AsyncLMDeployServer(_Served, AsyncLMDeployClient):
    """The async twin of :class:`LMDeployServer`."""
