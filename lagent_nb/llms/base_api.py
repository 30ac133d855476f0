"""Base class of wrappers around remote chat APIs."""

from __future__ import annotations

from typing import Union

from lagent_nb.llms.base_llm import APITemplateParser, AsyncLLMMixin, BaseLLM

__all__ = ["APITemplateParser", "AsyncBaseAPILLM", "BaseAPILLM"]


class BaseAPILLM(BaseLLM):
    """A model reached over an API: messages are sent as a list, not rendered to one prompt.

    Differences from ``BaseLLM`` follow lagent: ``repetition_penalty`` defaults to 0 (it maps
    to OpenAI's additive ``frequency_penalty``) and ``skip_special_tokens=False`` joins the
    gen params.
    """

    is_api: bool = True

    def __init__(
        self,
        model_type: str,
        retry: int = 2,
        template_parser: type = APITemplateParser,
        meta_template: Union[list[dict], None] = None,
        *,
        max_new_tokens: int = 512,
        top_p: float = 0.8,
        top_k: int = 40,
        temperature: float = 0.8,
        repetition_penalty: float = 0.0,
        stop_words: Union[list[str], str, None] = None,
    ):
        super().__init__(
            model_type,
            template_parser=template_parser,
            meta_template=meta_template,
            max_new_tokens=max_new_tokens,
            top_p=top_p,
            top_k=top_k,
            temperature=temperature,
            repetition_penalty=repetition_penalty,
            stop_words=stop_words,
        )
        self.model_type = model_type
        self.retry = retry
        self.gen_params["skip_special_tokens"] = False


class AsyncBaseAPILLM(AsyncLLMMixin, BaseAPILLM):
    """``BaseAPILLM`` with coroutine ``chat`` and async-generator ``stream_chat``."""
