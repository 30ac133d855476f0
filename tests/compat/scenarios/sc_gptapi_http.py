"""GPTAPI / AsyncGPTAPI over HTTP: what they send and how they read replies and streams.

Needs the loopback server the test suite starts (``$LAGENT_NB_COMPAT_OPENAI_BASE``): it answers
every request with the request's own JSON body as the reply text, so the scenario output shows
exactly what each client put on the wire. A last user message containing ``STOPTEST`` gets the
reply ``kept<END>dropped`` instead, to check client-side stop words.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os

from _common import main, mod, outcome, run_cases

ENV = "LAGENT_NB_COMPAT_OPENAI_BASE"
CHAT = [{"role": "system", "content": "be terse"}, {"role": "user", "content": "hello"}]


def run(pkg: str) -> dict:
    base = os.environ.get(ENV)
    if not base:
        return {"skipped": f"set {ENV} to an OpenAI-compatible loopback server"}
    llms = mod(pkg, "llms")
    url = base.rstrip("/") + "/chat/completions"  # lagent's style: the full endpoint URL

    def client(cls=None, **gen):
        cls = cls or llms.GPTAPI
        return cls(model_type="gpt-4o-mini", key="sk-compat", api_base=url, retry=1, **gen)

    def body(text):
        """The echoed request. A null parameter means "unset" to the API, same as leaving it out."""

        def parse():
            sent = json.loads(text)
            return {k: v for k, v in sent.items() if v is not None}

        return outcome(parse)

    def stream(llm, messages, **kw):
        chunks = list(llm.stream_chat(messages, **kw))
        states = [c[0] for c in chunks]
        return {
            "final": body(chunks[-1][1]) if chunks[-1][1].startswith("{") else chunks[-1][1],
            "ends_with_end": states[-1] == 0,
            "grows": all(len(a[1]) <= len(b[1]) for a, b in itertools.pairwise(chunks)),
            "n_end": states.count(0),
        }

    async def async_calls():
        llm = client(llms.AsyncGPTAPI, max_new_tokens=32)
        single = await llm.chat(CHAT, temperature=0.3)
        chunks = [c async for c in llm.stream_chat(CHAT)]
        return {
            "chat": body(single),
            "stream_final": body(chunks[-1][1]),
            "stream_last_state": chunks[-1][0],
        }

    stop_chat = [{"role": "user", "content": "STOPTEST"}]
    return run_cases(
        {
            "chat": lambda: body(client(max_new_tokens=64, stop_words=["<END>"]).chat(CHAT)),
            "chat_overrides": lambda: body(client().chat(CHAT, temperature=0.0, top_p=0.5)),
            "chat_batch": lambda: [body(t) for t in client().chat([CHAT, CHAT[1:]])],
            "json_mode": lambda: body(client(json_mode=True).chat(CHAT)),
            "environment_role": lambda: body(
                client().chat(
                    [{"role": "user", "content": "q"}, {"role": "environment", "content": "r"}]
                )
            ),
            "stop_word_cut": lambda: client(stop_words=["<END>"]).chat(stop_chat),
            "stream": lambda: stream(client(), CHAT),
            "stream_stop_word": lambda: stream(client(stop_words=["<END>"]), stop_chat),
            "async": lambda: asyncio.run(async_calls()),
        }
    )


if __name__ == "__main__":
    main(run)
