"""Run a notebook headlessly and print a readable transcript: ``python -m lagent_nb.quickstart NB``.

This is what ``make quickstart`` runs. The notebook executes cell by cell in a real ipykernel (the
same Python as this command), each cell's outputs are printed as soon as it finishes, and the
executed notebook is written next to the source as ``<name>.executed.ipynb``. Any cell error,
timeout or kernel death ends the run with a non-zero exit status and says which cell failed.

The kernel owns the embedded model server it starts; shutting the kernel down stops it. As a last
guard, any server still parented by the kernel afterwards is terminated and reported.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, TextIO

SERVER_MODULE = "lagent_nb.llms._local_server"


def executed_path(notebook: Path) -> Path:
    """``notebooks/x.ipynb`` -> ``notebooks/x.executed.ipynb`` (git-ignored)."""
    return notebook.with_name(f"{notebook.stem}.executed.ipynb")


def render_output(output: dict) -> str:
    """One cell output as text: streams and text as-is, images as a one-line placeholder."""
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data", {})
    for mime in ("text/markdown", "text/plain"):
        if mime in data:
            return data[mime] if isinstance(data[mime], str) else "".join(data[mime])
    for mime, payload in data.items():
        if mime.startswith("image/"):
            return f"[{mime} {len(payload) * 3 // 4 // 1024} KiB]"
    return f"[{', '.join(data) or 'empty output'}]"


def render_cell(cell: Any, index: int) -> str:
    """A cell as it reads in a transcript: the source, then its outputs."""
    prompt = f"In [{cell.get('execution_count') or ' '}]"
    seconds = _duration(cell.get("metadata", {}).get("execution", {}))
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    lines = [f"--- cell {index} {prompt}{took} ---", cell.source.rstrip()]
    outputs = [render_output(o).rstrip("\n") for o in cell.get("outputs", [])]
    if outputs:
        lines.append("··· output ···")
        lines.extend(outputs)
    return "\n".join(lines) + "\n"


def _duration(timing: dict) -> Optional[float]:
    """Seconds between nbclient's recorded start and end of a cell, when it recorded them."""
    from datetime import datetime

    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, AttributeError, ValueError):
        return None
    return (end - start).total_seconds()


def _servers_owned_by(pid: int) -> list[int]:
    """Pids of embedded model servers started by process ``pid`` (read from /proc on Linux)."""
    wanted = [SERVER_MODULE.encode(), b"--parent-pid", str(pid).encode()]
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        flag = argv.index(wanted[1]) if wanted[1] in argv else -1
        if wanted[0] in argv and 0 <= flag < len(argv) - 1 and argv[flag + 1] == wanted[2]:
            found.append(int(entry.name))
    return found


def run(
    notebook: Path,
    *,
    cell_timeout: float = 300.0,
    startup_timeout: float = 60.0,
    out: TextIO = sys.stdout,
) -> int:
    """Execute ``notebook``, print its transcript to ``out``; return the exit status."""
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as exc:
        hint = f"quickstart needs nbclient and nbformat ({exc}): pip install nbclient"
        print(hint, file=sys.stderr)
        return 2

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        startup_timeout=startup_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent.resolve())}},
    )
    # The kernel must run this interpreter, whatever 'python3' kernelspec the machine has.
    client.km = client.create_kernel_manager()
    client.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    sockets = tempfile.TemporaryDirectory(prefix="lagent_nb-quickstart-")
    if os.name == "posix":  # local sockets: private, and no "TCP without encryption" warning
        client.km.transport = "ipc"
        client.km.ip = os.path.join(sockets.name, "kernel")

    def show(cell: Any, cell_index: int, **_: Any) -> None:
        if cell.cell_type == "code":
            print(render_cell(cell, cell_index), file=out, flush=True)

    client.on_cell_executed = show
    kernel_pid: Optional[int] = None
    failure: Optional[str] = None
    print(f"Running {notebook} (cell timeout {cell_timeout:.0f} s)\n", file=out, flush=True)
    try:
        with client.setup_kernel(env=_kernel_env()):
            kernel_pid = _kernel_pid(client)
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except CellTimeoutError as exc:
        failure = f"a cell ran past its {cell_timeout:.0f} s timeout: {_first_line(exc)}"
    except CellExecutionError as exc:
        failure = f"a cell raised {exc.ename}: {exc.evalue}"
    except DeadKernelError as exc:
        failure = f"the kernel died: {exc}"
    except RuntimeError as exc:  # nbclient's "Kernel didn't respond in N seconds"
        failure = f"the kernel did not start: {exc}; raise --startup-timeout if it is slow"
    finally:
        nbformat.write(nb, executed_path(notebook))
        leftovers = _servers_owned_by(kernel_pid) if kernel_pid else []
        for pid in leftovers:
            os.kill(pid, signal.SIGTERM)
        sockets.cleanup()
    if leftovers:
        print(f"warning: stopped model servers left by the kernel: {leftovers}", file=sys.stderr)
    if failure:
        print(f"\nquickstart FAILED: {failure}", file=sys.stderr)
        print(f"executed notebook: {executed_path(notebook)}", file=sys.stderr)
        return 1
    print(f"quickstart OK; executed notebook: {executed_path(notebook)}", file=out)
    return 0


def _kernel_env() -> dict[str, str]:
    """This environment, with this lagent_nb first on the path: the kernel (which starts in the
    notebook's folder) imports the same package as this command, installed or not."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _kernel_pid(client: Any) -> Optional[int]:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    return getattr(process, "pid", None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lagent_nb.quickstart", description=__doc__)
    parser.add_argument(
        "notebook", type=Path, nargs="?", default=Path("notebooks/quickstart.ipynb")
    )
    parser.add_argument("--cell-timeout", type=float, default=300.0, help="seconds per cell")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="kernel start, s")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.error(f"notebook not found: {args.notebook}")
    return run(args.notebook, cell_timeout=args.cell_timeout, startup_timeout=args.startup_timeout)


if __name__ == "__main__":
    sys.exit(main())
