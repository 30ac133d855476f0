"""The wheel ships the prebuilt JupyterLab extension where JupyterLab finds it.

Built the way a user builds it (``pip wheel``), then installed into a private prefix and listed
by ``jupyter labextension list``: no npm, Node or JupyterLab build step on the user's side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lagent_nb

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SHARE = "share/jupyter/labextensions/lagent-nb"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(*args: str, **kwargs) -> str:
    """Run a command; its stdout and stderr together (Jupyter's listing goes to stderr)."""
    result = subprocess.run(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240,
        check=False,
        **kwargs,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}"
    return ANSI.sub("", result.stdout)


def _listing_by_folder(listing: str) -> dict[str, list[str]]:
    """`jupyter labextension list` output as {labextensions folder: its extension lines}."""
    folders: dict[str, list[str]] = {}
    current: list[str] = []
    for line in listing.splitlines():
        if line.startswith("/"):
            current = folders.setdefault(line.strip(), [])
        elif line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
    return folders


@pytest.fixture(scope="module")
def wheel(built_labextension: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel. The extension is already built, so the build hook skips npm; the
    build runs without isolation so it needs no package index (hatchling and
    hatch-jupyter-builder come with the dev extras)."""
    out = tmp_path_factory.mktemp("wheel")
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", str(out), str(REPO),
    )  # fmt: skip
    (wheel,) = out.glob("lagent_nb-*.whl")
    return wheel


def test_wheel_holds_the_prebuilt_extension(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        data = f"lagent_nb-{lagent_nb.__version__}.data/data/{SHARE}"
        package = json.loads(archive.read(f"{data}/package.json"))
        install = json.loads(archive.read(f"{data}/install.json"))

    assert package["name"] == "lagent-nb"
    assert package["version"] == lagent_nb.__version__, (
        "labextension/package.json and lagent_nb.__version__ disagree: bump both"
    )
    build = package["jupyterlab"]["_build"]
    assert {"extension", "mimeExtension", "style"} <= build.keys()
    assert f"{data}/{build['load']}" in names, "the remote entry named in package.json is shipped"
    assert f"{data}/static/style.js" in names
    assert install["packageName"] == "lagent_nb"
    assert install["packageManager"] == "python"
    # Shipped once, as shared data; not a second copy inside the Python package.
    assert not [n for n in names if n.startswith("lagent_nb/labextension/")]


def test_installed_wheel_is_listed_enabled(wheel: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would uninstall this venv's own lagent_nb first.
    _run(
        sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed",
        "--prefix", str(prefix), str(wheel),
    )  # fmt: skip
    jupyter = {name: str(tmp_path / name) for name in ("config", "data", "runtime")}
    env = {
        **os.environ,
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": jupyter["config"],
        "JUPYTER_DATA_DIR": jupyter["data"],
        "JUPYTER_RUNTIME_DIR": jupyter["runtime"],
    }
    listing = _run(sys.executable, "-m", "jupyter", "labextension", "list", env=env)
    folder = str(prefix / "share" / "jupyter" / "labextensions")
    assert _listing_by_folder(listing).get(folder) == [
        f"lagent-nb v{lagent_nb.__version__} enabled OK (python, lagent_nb)"
    ], listing
