"""AgentMessage, status codes and ActionReturn: fields, defaults, repr/str and dumps."""

from __future__ import annotations

from _common import main, mod, outcome, run_cases


def run(pkg: str) -> dict:
    schema = mod(pkg, "schema")
    msg = schema.AgentMessage
    ret = schema.ActionReturn

    def codes(enum_cls):
        return {member.name: member.value for member in enum_cls}

    def action_returns():
        mixed = ret(
            result=[
                {"type": "text", "content": "first"},
                {"type": "image", "content": "/tmp/a.png"},
                {"type": "text", "content": "second"},
            ]
        )
        return {"mixed": mixed.format_result(), "empty": ret().format_result(), "default": ret()}

    return run_cases(
        {
            "defaults": lambda: msg(content="hi").model_dump(),
            "repr": lambda: repr(msg(content="今天天气情况", sender="user")),
            "str": lambda: str(msg(content="急", sender="Agent")),
            "repr_formatted": lambda: repr(
                msg(content="x", formatted={"a": 1}, stream_state=schema.AgentStatusCode.CODING)
            ),
            "dump_json": lambda: msg(content={"k": [1, 2]}, receiver="r").model_dump_json(),
            "content_required": lambda: outcome(lambda: msg(sender="user"), message=False),
            "copy_deep": lambda: msg(content={"a": [1]}).copy(deep=True).model_dump(),
            "agent_status": lambda: codes(schema.AgentStatusCode),
            "model_status": lambda: codes(schema.ModelStatusCode),
            "action_status": lambda: codes(schema.ActionStatusCode),
            "action_valid": lambda: codes(schema.ActionValidCode),
            "action_return": action_returns,
            "function_call": lambda: schema.FunctionCall(name="f", parameters={"x": 1}),
        }
    )


if __name__ == "__main__":
    main(run)
