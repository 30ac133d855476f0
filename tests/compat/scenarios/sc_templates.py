"""Prompt rendering: LMTemplateParser with INTERNLM2_META (and none), APITemplateParser."""

from __future__ import annotations

from _common import main, mod, outcome, run_cases, scripted_llm

DIALOG = [
    {"role": "system", "content": "You are helpful."},
    {"role": "system", "content": "plugin list", "name": "plugin"},
    {"role": "system", "content": "python tool", "name": "interpreter"},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Calling"},
    {"role": "environment", "content": "result", "name": "interpreter"},
    {"role": "environment", "content": "other", "name": "custom"},
    {"role": "user", "content": "Thanks", "name": "bob"},
]


def run(pkg: str) -> dict:
    llms = mod(pkg, "llms")

    def lm_internlm2():
        parser = scripted_llm(pkg, []).template_parser
        return {
            "dialog": parser(DIALOG),
            "ends_with_assistant": parser(DIALOG[:5]),
            "plain_string": parser("raw prompt"),
            "with_strings": parser(["prefix|", {"role": "user", "content": "u"}]),
        }

    def lm_generate_role():
        meta = [
            dict(role="user", begin="<u>", end="</u>"),
            dict(role="assistant", begin="<a>", end="</a>", generate=True),
        ]
        parser = scripted_llm(pkg, [], meta_template=meta).template_parser
        return {
            "open": parser([{"role": "user", "content": "q"}]),
            "continue": parser(
                [{"role": "user", "content": "q"}, {"role": "assistant", "content": "par"}]
            ),
        }

    def lm_no_meta():
        parser = scripted_llm(pkg, [], meta_template=None).template_parser
        return parser(
            [{"role": "user", "content": "a"}, "b", {"role": "assistant", "content": "c"}]
        )

    def api_parser():
        gpt = llms.GPTAPI(model_type="gpt-4o", key="sk-dummy")
        parser = gpt.template_parser
        custom = dict(role="user", api_role="user", begin="[", end="]")
        other = llms.GPTAPI(
            model_type="gpt-4o",
            key="sk-dummy",
            meta_template=[custom, dict(role="assistant", api_role="assistant")],
        ).template_parser
        return {
            "gpt_default": parser(
                [m for m in DIALOG if not (m["role"] == "environment" and m["name"] == "custom")]
            ),
            "custom_begin_end": other(
                [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]
            ),
            "string": parser("just text"),
        }

    def module_layout():
        base_llm = mod(pkg, "llms.base_llm")
        base_api = mod(pkg, "llms.base_api")
        lm = base_llm.LMTemplateParser(llms.INTERNLM2_META)
        api = base_api.APITemplateParser([dict(role="user", api_role="user")])
        return {
            "lm": lm([{"role": "user", "content": "x"}]),
            "api": api([{"role": "user", "content": "x"}]),
        }

    def gen_params():
        llm = scripted_llm(pkg, [], stop_words="<eos>", top_k=1)
        return {
            "gen_params": llm.gen_params,
            "updated": llm.update_gen_params(temperature=0.0, stop_words=["a"]),
            "unchanged": llm.gen_params,
            "api_defaults": llms.GPTAPI(model_type="gpt-4o", key="k").gen_params,
        }

    return run_cases(
        {
            "lm_internlm2": lm_internlm2,
            "lm_generate_role": lm_generate_role,
            "lm_no_meta": lm_no_meta,
            "api_parser": api_parser,
            "module_layout": lambda: outcome(module_layout),
            "gen_params": gen_params,
            "internlm2_meta": lambda: llms.INTERNLM2_META,
        }
    )


if __name__ == "__main__":
    main(run)
