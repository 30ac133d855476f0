"""vLLM backends: ``VllmModel`` (offline ``LLM``) and ``AsyncVllmModel`` (``AsyncLLMEngine``).

vLLM needs Linux and an NVIDIA GPU, so it is imported only when a model is built; without it
the error says how to get it. Unlike lagent, the async engine streams, and every request gets
its own id: lagent used the session id, so two concurrent requests of one session collided.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any, Optional, Union

from lagent_nb.llms.base_llm import AsyncBaseLLM, BaseLLM, StreamItem, strip_session_keys
from lagent_nb.llms.stopping import StreamText, cut_at_stop_words
from lagent_nb.schema import ModelStatusCode

_COMPLETION_FIELDS = (
    "text",
    "token_ids",
    "cumulative_logprob",
    "logprobs",
    "finish_reason",
    "stop_reason",
)


def import_vllm() -> Any:
    """The ``vllm`` module, or an ImportError that says what to install and where it runs."""
    try:
        return importlib.import_module("vllm")
    except ImportError as error:
        raise ImportError(
            "VllmModel / AsyncVllmModel need vLLM, which runs on Linux with an NVIDIA GPU: "
            "`pip install vllm`. Without a GPU, use GPTAPI against an OpenAI-compatible "
            "server or the embedded local model."
        ) from error


def sampling_kwargs(gen_params: dict, skip_special_tokens: bool = False) -> dict:
    """``SamplingParams`` keywords from lagent-style gen params.

    ``max_new_tokens`` -> ``max_tokens`` and ``stop_words`` -> ``stop``; ``top_p``, ``top_k``,
    ``temperature`` and ``repetition_penalty`` keep their names (vLLM's own).
    """
    params = strip_session_keys(gen_params)
    params.pop("skip_special_tokens", None)
    kwargs = {"skip_special_tokens": skip_special_tokens}
    if "max_new_tokens" in params:
        kwargs["max_tokens"] = params.pop("max_new_tokens")
    if "stop_words" in params:
        kwargs["stop"] = params.pop("stop_words")
    kwargs.update(params)
    return kwargs


def completion_dict(output: Any) -> dict:
    """The fields of a vLLM ``CompletionOutput`` that ``return_dict=True`` exposes."""
    return {name: getattr(output, name, None) for name in _COMPLETION_FIELDS}


def new_request_id(session_id: Any = None) -> str:
    """A request id unique per call; the session id is kept in it for log readability."""
    prefix = "req" if session_id is None else f"s{session_id}"
    return f"{prefix}-{uuid.uuid4().hex}"


def _engine_options(path: str, tp: int, vllm_cfg: Optional[dict]) -> dict:
    options = {"model": path, "trust_remote_code": True, "tensor_parallel_size": tp}
    return {**options, **(vllm_cfg or {})}


def _finish(outputs: list, stop_words, batched: bool, return_dict: bool):
    """Cut stop words client-side and shape the result as lagent does."""
    results = []
    for output in outputs:
        output.text = cut_at_stop_words(output.text, stop_words)
        results.append(completion_dict(output) if return_dict else output.text)
    return results if batched else results[0]


class VllmModel(BaseLLM):
    """vLLM's offline engine; ``VllmModel(path, tp=1, vllm_cfg=None, **gen_params)``.

    ``stream_chat`` works too, as a single chunk: the offline engine cannot stream.
    """

    def __init__(self, path: str, tp: int = 1, vllm_cfg: Optional[dict] = None, **kwargs):
        super().__init__(path=path, **kwargs)
        self.model = import_vllm().LLM(**_engine_options(path, tp, vllm_cfg))

    def generate(
        self,
        inputs: Union[str, list[str]],
        do_preprocess: Optional[bool] = None,
        skip_special_tokens: bool = False,
        return_dict: bool = False,
        **kwargs,
    ):
        batched = not isinstance(inputs, str)
        prompts = list(inputs) if batched else [inputs]
        params = self.update_gen_params(**kwargs)
        sampling = import_vllm().SamplingParams(**sampling_kwargs(params, skip_special_tokens))
        responses = self.model.generate(prompts, sampling_params=sampling)
        outputs = [response.outputs[0] for response in responses]
        return _finish(outputs, params["stop_words"], batched, return_dict)

    def stream_generate(self, inputs: str, **kwargs) -> Iterator[StreamItem]:
        text = self.generate(inputs, **kwargs)
        yield ModelStatusCode.STREAM_ING, text, None
        yield ModelStatusCode.END, text, None


class AsyncVllmModel(AsyncBaseLLM):
    """vLLM's ``AsyncLLMEngine``; concurrent requests (same session or not) run side by side,
    and ``stream_chat`` yields text as it is generated."""

    def __init__(self, path: str, tp: int = 1, vllm_cfg: Optional[dict] = None, **kwargs):
        super().__init__(path=path, **kwargs)
        vllm = import_vllm()
        engine_args = vllm.AsyncEngineArgs(**_engine_options(path, tp, vllm_cfg))
        self.model = vllm.AsyncLLMEngine.from_engine_args(engine_args)

    async def _run(self, prompt: str, sampling: Any, session_id: Any) -> AsyncIterator[Any]:
        """Yield the cumulative output of one request; abort it if the consumer stops early."""
        request_id = new_request_id(session_id)
        finished = False
        try:
            async for result in self.model.generate(
                prompt, sampling_params=sampling, request_id=request_id
            ):
                finished = result.finished
                yield result.outputs[0]
        finally:
            if not finished:
                await self.model.abort(request_id)

    async def generate(
        self,
        inputs: Union[str, list[str]],
        session_ids: Any = None,
        do_preprocess: Optional[bool] = None,
        skip_special_tokens: bool = False,
        return_dict: bool = False,
        **kwargs,
    ):
        batched = not isinstance(inputs, str)
        prompts = list(inputs) if batched else [inputs]
        if isinstance(session_ids, (list, tuple)):
            if len(session_ids) != len(prompts):
                raise ValueError(f"{len(prompts)} prompts but {len(session_ids)} session ids")
        else:
            session_ids = [session_ids] * len(prompts)
        params = self.update_gen_params(**kwargs)
        sampling = import_vllm().SamplingParams(**sampling_kwargs(params, skip_special_tokens))

        async def last_output(prompt: str, session_id: Any) -> Any:
            last = None
            async with aclosing(self._run(prompt, sampling, session_id)) as results:
                async for output in results:
                    last = output
            return last

        outputs = await asyncio.gather(*map(last_output, prompts, session_ids))
        return _finish(list(outputs), params["stop_words"], batched, return_dict)

    async def stream_generate(
        self, inputs: str, session_id: Any = None, skip_special_tokens: bool = False, **kwargs
    ) -> AsyncIterator[StreamItem]:
        params = self.update_gen_params(**kwargs)
        sampling = import_vllm().SamplingParams(**sampling_kwargs(params, skip_special_tokens))
        text = StreamText(params["stop_words"])
        async with aclosing(self._run(inputs, sampling, session_id)) as results:
            async for output in results:
                visible = text.replace(output.text)  # vLLM reports cumulative text
                if visible is not None:
                    yield ModelStatusCode.STREAM_ING, visible, None
                if text.stopped:
                    break
        yield ModelStatusCode.END, text.final(), None

    async def stream_chat(self, inputs: list, session_id: Any = None, **kwargs):
        async for item in self.stream_generate(self.render(inputs), session_id, **kwargs):
            yield item
