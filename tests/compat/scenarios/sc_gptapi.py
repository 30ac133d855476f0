"""GPTAPI / AsyncGPTAPI request payloads (the pure request-building step, no network)."""

from __future__ import annotations

from _common import main, mod, outcome, run_cases

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def run(pkg: str) -> dict:
    llms = mod(pkg, "llms")

    def payloads(cls):
        def build(model_type, json_mode=False, **overrides):
            api = cls(model_type=model_type, key="sk-test", **overrides)
            params = api.update_gen_params()
            return outcome(
                lambda: api.generate_request_data(model_type, MESSAGES, params, json_mode=json_mode)
            )

        return {
            "gpt_defaults": build("gpt-4o"),
            "gpt_json_mode": build("gpt-4o", json_mode=True),
            "qwen_stop": build("qwen-max", stop_words=["<|im_end|>"], repetition_penalty=0.5),
            "internlm_top_k": build("internlm2.5-latest", top_k=3),
            "large_max_tokens": build("gpt-4o", max_new_tokens=10000),
            "zero_max_tokens": build("gpt-4o", max_new_tokens=0),
            "other_model": build("llama-3.1-8b"),
            "o1_model": build("o1-mini"),
        }

    def constructors():
        gpt = llms.GPTAPI(
            model_type="gpt-4o", key=["k1", "k2"], org="org-1", top_k=5, temperature=0.2
        )
        return {
            "gen_params": gpt.gen_params,
            "model_type": gpt.model_type,
            "orgs": gpt.orgs,
            "retry": gpt.retry,
            "json_mode": gpt.json_mode,
        }

    return run_cases(
        {
            "sync": lambda: payloads(llms.GPTAPI),
            "async": lambda: payloads(llms.AsyncGPTAPI),
            "constructors": constructors,
        }
    )


if __name__ == "__main__":
    main(run)
