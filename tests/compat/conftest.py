"""Fixtures of the differential suite: lagent's interpreter and both packages' scenario outputs."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

from lagent_nb.testing.lagent_env import LagentUnavailable, ensure_lagent_python

HERE = pathlib.Path(__file__).resolve().parent


def _load_harness():
    """The harness module, loaded by path (tests run with ``--import-mode=importlib``)."""
    spec = importlib.util.spec_from_file_location("lagent_nb_compat_harness", HERE / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


@pytest.fixture(scope="session")
def compat_harness():
    return harness


# A first build downloads ~360 MB; stay under pytest-timeout's 300 s so a slow registry gives a
# skip with the reason rather than a killed fixture (the next run resumes from scratch cleanly).
BUILD_TIMEOUT_S = 270.0


@pytest.fixture(scope="session")
def lagent_python():
    try:
        return ensure_lagent_python(timeout=BUILD_TIMEOUT_S)
    except LagentUnavailable as exc:
        pytest.skip(f"lagent 0.5.0rc3 is unavailable, differential tests skipped: {exc.reason}")


@pytest.fixture(scope="session")
def scenario_env():
    """A loopback OpenAI-compatible server echoing each request, for ``sc_gptapi_http``."""
    from lagent_nb.testing.openai_server import OpenAIServer

    with OpenAIServer(harness.echo_request, chunk_size=16) as server:
        yield {"LAGENT_NB_COMPAT_OPENAI_BASE": server.base_url}


@pytest.fixture(scope="session")
def lagent_outputs(lagent_python, scenario_env):
    return harness.run_scenarios(lagent_python, "lagent", extra_env=scenario_env)


@pytest.fixture(scope="session")
def lagent_nb_outputs(scenario_env):
    return harness.run_scenarios(sys.executable, "lagent_nb", extra_env=scenario_env)
