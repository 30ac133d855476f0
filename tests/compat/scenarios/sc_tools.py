"""tool_api descriptions, BaseAction calls and ActionExecutor error paths and hook order."""

import asyncio
from typing import List, Optional

from _common import main, mod, outcome, run_cases
from typing_extensions import Annotated


def run(pkg: str) -> dict:
    actions = mod(pkg, "actions")
    hooks = mod(pkg, "hooks")
    schema = mod(pkg, "schema")
    BaseAction, tool_api = actions.BaseAction, actions.tool_api

    class Bold(BaseAction):
        """Make text bold."""

        @tool_api
        def run(self, text: str, times: int = 1):
            """Wrap the text in markdown bold.

            Args:
                text (str): the text to emphasise
                times (int): how many times to repeat it
            """
            return "**" + text * times + "**"

    class Calculator(BaseAction):
        """A tiny calculator toolkit."""

        @tool_api
        def add(self, a: Annotated[int, "first addend"], b: float = 1.0):
            """Add two numbers.

            Args:
                a (str): ignored, the annotation wins
                b (float): second addend
            """
            return a + b

        @tool_api(explode_return=True)
        def divide(self, a: int, b: int) -> dict:
            """Divide a by b.

            Args:
                a (int): numerator
                b (int): denominator

            Returns:
                dict: the outcome
                    * quotient (float): a / b
                    * exact (bool): whether b divides a
            """
            return {"quotient": a / b, "exact": a % b == 0}

        @tool_api(include_arguments=["words"])
        def shout(self, words: List[str], flag: bool = False, note: Optional[str] = None):
            """Upper-case words.

            Args:
                words (list): words to shout
                flag (bool): unused
                note (str): unused
            """
            return [w.upper() for w in words]

        @tool_api(returns_named_value=True)
        def echo(self, value: str) -> str:
            """Echo a value.

            Args:
                value (str): anything

            Returns:
                str: echoed: the value again
            """
            return value

    class Fails(BaseAction):
        @tool_api
        def run(self, x: int):
            """Always fails.

            Args:
                x (int): anything
            """
            raise RuntimeError(f"boom {x}")

    class Text(BaseAction):
        @tool_api
        def run(self, s: str):
            """Return s.

            Args:
                s (str): text
            """
            return s

    def descriptions():
        calc = Calculator()
        return {
            "bold": Bold().description,
            "bold_name": Bold().name,
            "bold_toolkit": Bold().is_toolkit,
            "calc": calc.description,
            "calc_toolkit": calc.is_toolkit,
            "executor": actions.ActionExecutor([Bold(), Calculator()]).description(),
        }

    def function_tool():
        @tool_api
        def greet(name: str, polite: bool = True) -> str:
            """Greet someone.

            Args:
                name (str): who
                polite (bool): say please
            """
            return f"hi {name}"

        return getattr(greet, "api_description", None)

    def untyped_docstring_arg():
        def define():
            class Loose(BaseAction):
                @tool_api
                def run(self, q):
                    """Search.

                    Args:
                        q: what to look for
                    """

            return Loose().description

        return outcome(define, message=False)

    def run_and_api_conflict():
        def define():
            class Bad(BaseAction):
                @tool_api
                def run(self, a: int):
                    """A.

                    Args:
                        a (int): a
                    """

                @tool_api
                def other(self, b: int):
                    """B.

                    Args:
                        b (int): b
                    """

            return Bad

        return outcome(define, message=False)

    def action_calls():
        calc, bold = Calculator(), Bold()
        return {
            "ok_dict": bold({"text": "x", "times": 2}),
            "ok_json_str": bold('{"text": "y"}'),
            "ok_fenced": bold('```json\n{"text": "z"}\n```'),
            "raw_code": bold("print(1)"),
            "missing_arg": bold({"times": 2}),
            "unknown_arg": bold({"text": "a", "colour": "red"}),
            "invalid_api": calc({"a": 1}, "sqrt"),
            "toolkit_ok": calc({"a": 6, "b": 4}, "divide"),
            "toolkit_list": calc({"words": ["a", "b"]}, "shout"),
            "runtime_error": Fails()({"x": 3}),
            "non_gbk": Text()({"s": "smile 😀 ok"}),
        }

    order = []

    class Tracer(hooks.Hook):
        def __init__(self, tag):
            self.tag = tag

        def before_action(self, executor, message, session_id):
            order.append(["before", self.tag, session_id])

        def after_action(self, executor, message, session_id):
            order.append(["after", self.tag, session_id, message.content.state])

    def executor_paths():
        order.clear()
        ex = actions.ActionExecutor([Bold(), Calculator()], hooks=[Tracer("t1"), Tracer("t2")])
        call = lambda content: ex(schema.AgentMessage(sender="bot", content=content), session_id=4)  # noqa: E731
        out = {
            "keys": ex.keys(),
            "contains": ["Bold" in ex, "Nope" in ex],
            "valid": call({"name": "Bold", "parameters": {"text": "x"}}),
            "toolkit_dot": call(
                schema.FunctionCall(name="Calculator.add", parameters={"a": 1, "b": 2})
            ),
            "invalid": call({"name": "Missing", "parameters": {}}),
            "no_action": call({"name": "NoAction", "parameters": {}}),
            "finish": call({"name": "FinishAction", "parameters": {"response": "done"}}),
            "finish_str": call({"name": "FinishAction", "parameters": "plain"}),
            "bad_args": call({"name": "Bold", "parameters": {"wrong": 1}}),
            "api_error": call({"name": "Calculator.divide", "parameters": {"a": 1, "b": 0}}),
        }
        out["order"] = list(order)
        out["not_a_call"] = outcome(lambda: call("just text"), message=False)
        return out

    def executor_mutation():
        ex = actions.ActionExecutor(Bold())
        ex["Calc"] = Calculator()
        keys_after_set = ex.keys()
        del ex["Bold"]
        return {"after_set": keys_after_set, "after_del": ex.keys()}

    def action_preprocessor():
        ex = actions.ActionExecutor([Bold()], hooks=[hooks.ActionPreprocessor()])
        ok = ex(
            schema.AgentMessage(
                sender="bot",
                content="raw",
                formatted={"action": {"name": "Bold", "parameters": {"text": "p"}}},
            )
        )
        bad = ex(
            schema.AgentMessage(
                sender="bot",
                content="raw",
                formatted={"action": {"name": "Bold", "parameters": {}}},
            )
        )
        return {"ok": ok, "bad": bad}

    class Slow(actions.AsyncActionMixin, BaseAction):
        @tool_api
        async def run(self, n: int):
            """Wait, then double n.

            Args:
                n (int): a number
            """
            await asyncio.sleep(0)
            return n * 2

    def more_executor_paths():
        finishing = actions.ActionExecutor([Bold()], finish_in_action=True)
        tuple_tool = Bold(parser=actions.TupleParser)
        return {
            "finish_in_action_keys": finishing.keys(),
            "finish_in_action_call": finishing(
                schema.AgentMessage(
                    sender="bot", content={"name": "FinishAction", "parameters": {"response": "r"}}
                )
            ),
            "tuple_parser": tuple_tool(("x", 3)),
            "tuple_parser_bad": tuple_tool("not a tuple"),
            "async_tool": asyncio.run(
                actions.AsyncActionExecutor([Slow()])(
                    schema.AgentMessage(
                        sender="bot", content={"name": "Slow", "parameters": {"n": 21}}
                    )
                )
            ),
            "async_tool_description": Slow().description,
        }

    def async_executor():
        ex = actions.AsyncActionExecutor([Bold()], hooks=[Tracer("a")])
        order.clear()
        msg = schema.AgentMessage(
            sender="bot", content={"name": "Bold", "parameters": {"text": "q"}}
        )
        out = asyncio.run(ex(msg, session_id=2))
        invalid = asyncio.run(
            ex(schema.AgentMessage(sender="bot", content={"name": "X", "parameters": {}}))
        )
        return {"out": out, "invalid": invalid, "order": list(order)}

    return run_cases(
        {
            "descriptions": descriptions,
            "function_tool": function_tool,
            "untyped_docstring_arg": untyped_docstring_arg,
            "run_and_api_conflict": run_and_api_conflict,
            "action_calls": action_calls,
            "executor_paths": executor_paths,
            "executor_mutation": executor_mutation,
            "action_preprocessor": action_preprocessor,
            "async_executor": async_executor,
            "more_executor_paths": more_executor_paths,
        }
    )


if __name__ == "__main__":
    main(run)
