"""OpenAI function-calling export: real JSON Schema types, toolkit naming, routing back."""

import json
from typing import Annotated, Dict, List, Optional

from lagent_nb.actions import ActionExecutor, BaseAction, tool_api
from lagent_nb.actions.tool_schema import openai_function
from lagent_nb.schema import ActionStatusCode, AgentMessage, FunctionCall


class Search(BaseAction):
    """Search toolkit"""

    @tool_api
    def query(
        self,
        words: List[str],
        k: int = 5,
        exact: bool = False,
        score: Optional[float] = None,
        meta: Optional[Dict[str, int]] = None,
        note: Annotated[str, "a note"] = "",
    ):
        """Search.

        Args:
            words: the words
            k: how many
        """
        return {"hits": words[:k], "note": note}


class Echo(BaseAction):
    def run(self, text, session_id=None):
        """Echo

        Args:
            text (int): the text
        """
        return f"{session_id}:{text}"


def test_parameters_get_json_schema_types():
    (entry,) = Search().openai_tools()
    assert entry["type"] == "function"
    function = entry["function"]
    assert function["name"] == "Search__query"
    assert function["description"] == "Search."
    props = function["parameters"]["properties"]
    assert function["parameters"]["type"] == "object"
    assert function["parameters"]["required"] == ["words"]
    # lagent's own format says STRING for List[str]; the export says what it is
    assert Search().description["api_list"][0]["parameters"][0]["type"] == "STRING"
    assert props["words"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "the words",
    }
    assert props["k"] == {"type": "integer", "description": "how many"}
    assert props["exact"] == {"type": "boolean"}
    assert props["score"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert props["meta"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert props["note"] == {"type": "string", "description": "a note"}
    json.dumps(entry)  # serialisable as a request body


def test_docstring_types_and_hidden_session_parameter():
    (entry,) = Echo().openai_tools()
    params = entry["function"]["parameters"]
    assert entry["function"]["name"] == "Echo"
    assert params["properties"] == {"text": {"type": "integer", "description": "the text"}}
    assert params["required"] == ["text"]


def test_description_only_api_maps_lagent_types():
    api = {
        "name": "f",
        "description": "d",
        "parameters": [
            {"name": "a", "type": "NUMBER", "description": ""},
            {"name": "b", "type": "FLOAT", "description": "x"},
            {"name": "c", "type": "Array", "description": ""},
            {"name": "d", "type": "BOOLEAN", "description": ""},
            {"name": "e", "type": "STRING", "description": ""},
        ],
        "required": ["a"],
    }
    props = openai_function(api)["function"]["parameters"]["properties"]
    assert [props[k]["type"] for k in "abcde"] == [
        "integer",
        "number",
        "array",
        "boolean",
        "string",
    ]
    assert props["b"]["description"] == "x"


def test_executor_exports_every_api_and_routes_the_names_back():
    executor = ActionExecutor([Search(), Echo()])
    names = [t["function"]["name"] for t in executor.openai_tools()]
    assert names == ["Search__query", "Echo"]
    call = AgentMessage(sender="llm", content=FunctionCall("Search__query", {"words": ["a", "b"]}))
    ret = executor(call).content
    assert ret.state == ActionStatusCode.SUCCESS
    assert json.loads(ret.result[0]["content"]) == {"hits": ["a", "b"], "note": ""}
    echoed = executor(AgentMessage(sender="llm", content=FunctionCall("Echo", {"text": 1})), "s9")
    assert echoed.content.result[0]["content"] == "s9:1"
    assert executor.forward("Search__nope", {}).errmsg == "invalid API: nope"
    assert executor.forward("Echo__x", {}).type == "InvalidAction"  # Echo is not a toolkit
