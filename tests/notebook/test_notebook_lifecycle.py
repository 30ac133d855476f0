"""``%unload_ext`` stops what the extension's agents started: here, the embedded model."""

from __future__ import annotations

import psutil
import pytest


@pytest.mark.slow
@pytest.mark.model
def test_unload_stops_the_embedded_model(ip):
    local = pytest.importorskip("lagent_nb.llms.local")
    try:
        server = local.default_server()
    except (local.LocalModelUnavailable, local.ServerStartError) as exc:
        pytest.skip(f"embedded model unavailable: {exc}")
    pid = server.pid
    assert server.running and psutil.pid_exists(pid)
    ip.run_line_magic("unload_ext", "lagent_nb")
    assert not server.running
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    ip.run_line_magic("load_ext", "lagent_nb")  # the fixture unloads again
