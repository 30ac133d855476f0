"""IPythonInteractive: results, printed output, state, errors, timeouts, description."""

from __future__ import annotations

from _common import main, mod, run_cases, scripted_llm


def run(pkg: str) -> dict:
    actions = mod(pkg, "actions")
    action = actions.IPythonInteractive(timeout=20)

    def call(code, **extra):
        ret = action({"command": code, **extra})
        text = ret.format_result() if ret.state == 0 else ret.errmsg
        return {"state": ret.state, "valid": ret.valid, "type": ret.type, "text": text}

    def error_summary(code, **extra):
        ret = action({"command": code, **extra})
        errmsg = ret.errmsg or ""
        return {
            "state": ret.state,
            "mentions": [
                w
                for w in ("ZeroDivisionError", "NameError", "timeout")
                if w.lower() in errmsg.lower()
            ],
            "no_ansi": "\x1b[" not in errmsg,
        }

    def describe():
        """The description's shape; its sentences are each package's own wording."""
        desc = action.description
        return {
            "name": desc["name"],
            "has_text": bool(desc["description"]),
            "parameters": [(p["name"], p["type"]) for p in desc["parameters"]],
            "required": desc["required"],
        }

    def math_coder():
        """MathCoder end to end: the model writes code, the kernel runs it, the model answers."""
        replies = [
            "Compute it.<|action_start|><|interpreter|>\n```python\n21 * 2\n```<|action_end|>\n",
            "So the answer is $\\boxed{42}$.",
        ]
        llm = scripted_llm(pkg, replies)
        coder = mod(pkg, "agents").MathCoder(llm)
        try:
            reply = coder("What is 21 * 2?", session_id=0)
            return {
                "reply": reply,
                "sd": coder.state_dict(),
                "steps": coder.get_steps(),
                "prompts": llm.script.calls,
            }
        finally:
            for executor in (coder.interpreter_executor,):
                for tool in executor.actions.values():
                    close = getattr(tool, "close_session", None)
                    if close is not None:
                        close(0)

    try:
        return run_cases(
            {
                "description": describe,
                "value": lambda: call("1 + 1"),
                "print_only": lambda: call("print('a')\nprint('b')"),
                "print_and_value": lambda: call("print('x')\n40 + 2"),
                "state_kept": lambda: [call("y = 5"), call("y * 2")],
                "fenced": lambda: call("Here:\n```python\n3 * 3\n```"),
                "json_command": lambda: call('{"code": "7 * 6"}'),
                "zero_division": lambda: error_summary("1 / 0"),
                "name_error": lambda: error_summary("undefined_name"),
                "timeout": lambda: error_summary("import time\ntime.sleep(30)", timeout=2),
                "after_timeout": lambda: call("y + 1"),
                "math_coder": math_coder,
            }
        )
    finally:
        close = getattr(action, "close_session", None)
        if close is not None:
            close(0)


if __name__ == "__main__":
    main(run)
