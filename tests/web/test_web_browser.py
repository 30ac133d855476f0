"""WebBrowser / AsyncWebBrowser through the executors, against the loopback search server."""

from __future__ import annotations

import asyncio

import pytest

from lagent_nb.actions import ActionExecutor, AsyncActionExecutor, AsyncWebBrowser, WebBrowser
from lagent_nb.schema import ActionStatusCode, AgentMessage
from lagent_nb.testing.search_server import SearchServer

SECRET = "brave-key-do-not-print"


@pytest.fixture
def server():
    with SearchServer(delay=3.0) as srv:
        yield srv


def browser(cls, server, **kw):
    return cls(
        searcher_type="BraveSearch",
        endpoint=server.endpoint("brave"),
        api_key=SECRET,
        timeout=1,
        **kw,
    )


def call(executor, api, parameters, session_id=0):
    """Call ``<the executor's only tool>.<api>``, whatever the tool's class name."""
    (tool,) = executor.keys()
    msg = AgentMessage(sender="agent", content=dict(name=f"{tool}.{api}", parameters=parameters))
    out = executor(msg, session_id=session_id)
    if asyncio.iscoroutine(out):
        out = asyncio.run(out)
    return out.content


@pytest.mark.parametrize(
    ("cls", "executor_cls"), [(WebBrowser, ActionExecutor), (AsyncWebBrowser, AsyncActionExecutor)]
)
def test_search_select_open(server, cls, executor_cls):
    executor = executor_cls(actions=[browser(cls, server, max_content_length=80)])
    found = call(executor, "search", {"query": ["solar", "wind"]})
    assert found.state == ActionStatusCode.SUCCESS
    assert "Solar capacity in 2024" in found.format_result()
    picked = call(executor, "select", {"select_ids": [0, 7]})
    assert picked.state == ActionStatusCode.SUCCESS
    text = picked.format_result()
    assert "Solar power capacity grew by 30 percent" in text
    assert "truncated" in text  # bounded by max_content_length
    page = call(executor, "open_url", {"url": server.page_url("wind")})
    assert "Wind power capacity grew" in page.format_result()


def test_description_hides_session_parameter():
    description = WebBrowser(searcher_type="DuckDuckGoSearch").description
    assert [api["name"] for api in description["api_list"]] == ["search", "select", "open_url"]
    for api in description["api_list"]:
        assert "session_id" not in [p["name"] for p in api["parameters"]]


def test_search_results_belong_to_one_session(server):
    executor = ActionExecutor(actions=[browser(WebBrowser, server)])
    call(executor, "search", {"query": "solar"}, session_id="a")
    other = call(executor, "select", {"select_ids": [0]}, session_id="b")
    assert other.state == ActionStatusCode.API_ERROR
    assert "call search first" in other.errmsg
    mine = call(executor, "select", {"select_ids": [0]}, session_id="a")
    assert mine.state == ActionStatusCode.SUCCESS


@pytest.mark.parametrize("fault", ["error", "malformed", "slow"])
@pytest.mark.parametrize(
    ("cls", "executor_cls"), [(WebBrowser, ActionExecutor), (AsyncWebBrowser, AsyncActionExecutor)]
)
def test_network_failures_are_http_errors(server, fault, cls, executor_cls):
    executor = executor_cls(actions=[browser(cls, server)])
    server.fault = fault
    result = call(executor, "search", {"query": "solar"})
    assert result.state == ActionStatusCode.HTTP_ERROR
    assert "Brave" in result.errmsg and SECRET not in result.errmsg
    page = call(executor, "open_url", {"url": server.page_url("solar")})
    if fault == "malformed":
        assert page.state == ActionStatusCode.SUCCESS  # a cut page still has readable text
    else:
        assert page.state == ActionStatusCode.HTTP_ERROR
        assert server.page_url("solar") in page.errmsg


def test_unknown_searcher_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown searcher_type 'Yahoo'"):
        WebBrowser(searcher_type="Yahoo")


def test_every_searcher_name_from_lagent_constructs(server):
    for name in ("DuckDuckGoSearch", "BingSearch", "BraveSearch", "GoogleSearch", "SearxngSearch"):
        tool = WebBrowser(searcher_type=name, api_key=SECRET, endpoint=server.base_url)
        assert type(tool.searcher).__name__ == name
        assert SECRET not in repr(tool.searcher)
