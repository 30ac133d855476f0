"""Fixtures for the JupyterLab browser tests: a built extension, an isolated server, a browser.

The server runs from this venv with every Jupyter directory in a temporary folder, and sees the
extension through a symlink on its JUPYTER_PATH (what ``jupyter labextension develop`` does), so
the test exercises the JavaScript built from this checkout, not an older installed copy; the
``lab_server`` fixture checks that the page really loads that build.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABEXT_SOURCE = REPO / "labextension"
LABEXT_BUILD = REPO / "lagent_nb" / "labextension"
LABEXT_NAME = "lagent-nb"
CHROMIUM = Path(os.environ.get("LAGENT_NB_CHROMIUM", "/usr/bin/chromium"))
OUTPUT_DIR = REPO / "test-output" / "browser"
# One bound for every wait in these tests; raise it on a slow machine.
TIMEOUT_S = float(os.environ.get("LAGENT_NB_BROWSER_TIMEOUT", "90"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


def _newest_mtime(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def _labextension_sources() -> list[Path]:
    files = [LABEXT_SOURCE / "package.json", LABEXT_SOURCE / "tsconfig.json"]
    for folder in ("src", "style"):
        files.extend(p for p in (LABEXT_SOURCE / folder).rglob("*") if p.is_file())
    return files


def ensure_labextension_built() -> Path:
    """The built extension, rebuilt first when a source is newer than the build."""
    built = LABEXT_BUILD / "package.json"
    if built.is_file() and _newest_mtime(_labextension_sources()) <= _newest_mtime(
        [p for p in LABEXT_BUILD.rglob("*")]
    ):
        return LABEXT_BUILD
    if not (LABEXT_SOURCE / "node_modules").is_dir() or shutil.which("npm") is None:
        pytest.fail(
            f"The JupyterLab extension in {LABEXT_BUILD} is missing or older than its sources, "
            "and it cannot be rebuilt here (needs npm and labextension/node_modules). "
            "Run `pip install -e .` or `cd labextension && npm install && npm run build:prod`."
        )
    # `jupyter-builder` is a console script of this venv's jupyter-builder package.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["npm", "run", "build:prod"],
        cwd=LABEXT_SOURCE,
        env=env,
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S * 3,
    )
    return LABEXT_BUILD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: where it listens and the folder it serves."""

    url: str
    token: str
    root: Path

    def api(self, method: str, path: str) -> object:
        """Call the server's REST API; returns the decoded JSON body (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def served_extension_entry(self) -> str | None:
        """The remote entry the Lab page loads for our extension (None if it loads none)."""
        request = urllib.request.Request(f"{self.url}/lab?token={self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
        config = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
        assert config, "the JupyterLab page has no jupyter-config-data"
        for extension in json.loads(config.group(1))["federated_extensions"]:
            if extension["name"] == LABEXT_NAME:
                return extension["load"]
        return None

    def wait_until_up(self, process: subprocess.Popen, log: Path) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {process.returncode}; see {log}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer within {TIMEOUT_S} s; see {log}")


def _isolated_env(base: Path, extension: Path) -> dict[str, str]:
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True)
    # The "official Jupyter news?" toast would cover the notebook; settings turn it off.
    notification = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # JUPYTER_PATH comes first on the labextension path (before this venv's share/jupyter, which
    # may hold an older copy from `pip install -e .`), so the checkout's build is the one served.
    extensions = base / "path" / "labextensions"
    extensions.mkdir(parents=True)
    (extensions / LABEXT_NAME).symlink_to(extension, target_is_directory=True)
    dirs["JUPYTER_PATH"] = base / "path"
    return {**os.environ, **{key: str(value) for key, value in dirs.items()}}


@pytest.fixture(scope="session")
def built_labextension() -> Path:
    """The extension built from this checkout (rebuilt when a source is newer)."""
    return ensure_labextension_built()


@pytest.fixture
def browser_timeout() -> float:
    """Seconds any single wait in a browser test may take (LAGENT_NB_BROWSER_TIMEOUT)."""
    return TIMEOUT_S


@pytest.fixture
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture
def lab_server(tmp_path: Path, output_dir: Path, built_labextension: Path) -> Iterator[LabServer]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it with `make browser` (apt chromium)")
    root = tmp_path / "root"
    root.mkdir()
    server = LabServer(f"http://127.0.0.1:{_free_port()}", secrets.token_hex(16), root)
    log = output_dir / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={server.url.rsplit(':', 1)[1]}",
        "--allow-root",
        f"--IdentityProvider.token={server.token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=_isolated_env(tmp_path / "jupyter", built_labextension),
            cwd=root,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            server.wait_until_up(process, log)
            built = json.loads((built_labextension / "package.json").read_text())
            expected = built["jupyterlab"]["_build"]["load"]
            served = server.served_extension_entry()
            if served != expected:
                raise RuntimeError(
                    f"JupyterLab serves {LABEXT_NAME} entry {served!r}, not this checkout's "
                    f"build {expected!r}: check the labextension paths in {log}"
                )
            yield server
        finally:
            # The server's kernels live in its process group: end them with it.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=TIMEOUT_S / 3)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def console_errors() -> list[str]:
    """The browser's console errors and uncaught exceptions, filled while ``page`` runs."""
    return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can tell a failed test apart."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    lab_server: LabServer,
    console_errors: list[str],
    output_dir: Path,
):
    """A headless Chromium page with every Playwright wait bounded by ``TIMEOUT_S``.

    When the test fails, the page's screenshot and HTML are kept in ``output_dir``.
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_S * 1000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT_S * 1000)
            page = context.new_page()
            page.on(
                "console",
                lambda message: message.type == "error" and console_errors.append(message.text),
            )
            page.on(
                "pageerror", lambda error: console_errors.append(f"uncaught: {error} {error.stack}")
            )
            yield page
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                page.screenshot(path=str(output_dir / f"{request.node.name}-failed.png"))
                (output_dir / f"{request.node.name}-failed.html").write_text(page.content())
        finally:
            browser.close()
