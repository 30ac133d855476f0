"""lagent code gives the same observable results under lagent_nb, except documented fixes."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

# Tests that run the scenarios under lagent (its venv) and lagent_nb; the others test the harness.
differential = pytest.mark.compat

SCENARIOS = sorted(p.stem for p in (pathlib.Path(__file__).parent / "scenarios").glob("sc_*.py"))
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "compat.md"


def _crashes(output, path=""):
    if isinstance(output, dict):
        if set(output) == {"crashed"}:
            yield path or "/", output["crashed"]
            return
        for key, value in output.items():
            yield from _crashes(value, f"{path}/{key}")


@differential
@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_runs_cleanly_on_lagent(scenario, lagent_outputs):
    """The scenarios themselves are right: lagent runs every case without crashing."""
    crashes = list(_crashes(lagent_outputs[scenario]))
    assert not crashes, "\n".join(f"{path}:\n{tb}" for path, tb in crashes)


@differential
@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lagent_nb_matches_lagent(scenario, lagent_outputs, lagent_nb_outputs, compat_harness):
    ours = lagent_nb_outputs[scenario]
    waiting = compat_harness.pending(ours)
    allowed = compat_harness.load_allowlist()
    problems = compat_harness.unexplained(
        scenario, lagent_outputs[scenario], ours, allowed, waiting
    )
    not_yet = "; ".join(f"{scenario}{path} needs {what}" for path, what in sorted(waiting.items()))
    assert not problems, (
        f"{len(problems)} undocumented difference(s):\n"
        + "\n".join(problems)
        + (f"\n(not compared yet: {not_yet})" if not_yet else "")
    )
    if waiting:
        pytest.skip(f"not written yet in lagent_nb: {not_yet}")


@differential
@pytest.mark.slow
def test_allowlist_entries_point_at_real_paths(lagent_outputs, lagent_nb_outputs, compat_harness):
    """Each entry names a path lagent produces, and the fixed value when the entry states one."""
    stale = []
    for entry in compat_harness.load_allowlist():
        if entry.replace is not None:
            continue
        where = f"{entry.scenario}{entry.path}"
        concrete = compat_harness.expand(lagent_outputs[entry.scenario], entry.path)
        if not concrete:
            stale.append(f"{where}: not in lagent's output")
            continue
        ours = lagent_nb_outputs.get(entry.scenario)
        waiting = compat_harness.pending(ours)
        for path in concrete if entry.has_expected else ():
            if any(path.startswith(p.rstrip("/") + "/") or p in ("/", path) for p in waiting):
                continue
            try:
                got = compat_harness.resolve(ours, path)
            except (KeyError, IndexError, TypeError, ValueError):
                got = "<absent>"
            if got != entry.expected:
                stale.append(
                    f"{entry.scenario}{path}: lagent_nb gives "
                    + json.dumps(got, ensure_ascii=False)[:300]
                )
    assert not stale, "\n".join(stale)


def test_allowlist_is_documented(compat_harness):
    """Every deliberate difference has its section in docs/compat.md, and a reason."""
    text = DOCS.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([\w-]+)"></a>', text))
    undocumented = [
        f"{e.scenario}{e.path} -> #{e.doc}"
        for e in compat_harness.load_allowlist()
        if e.doc not in anchors or not e.reason.strip()
    ]
    assert not undocumented, "allow-list entries without a docs/compat.md section:\n" + "\n".join(
        undocumented
    )


def test_a_scenario_runs_alone_as_a_script(compat_harness):
    """``python sc_messages.py lagent_nb`` prints the scenario's JSON, as documented."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(compat_harness.REPO)}
    script = compat_harness.SCENARIOS / "sc_messages.py"
    proc = subprocess.run(
        [sys.executable, str(script), "lagent_nb"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["agent_status"]["STREAM_ING"] == 1
    usage = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert usage.returncode != 0 and "usage" in usage.stderr


def test_diff_reports_every_leaf(compat_harness):
    """The comparison itself: nested changes, missing keys and list length changes all surface."""
    left = {"a": [1, {"b": 2}], "c": "x", "gone": 1, "n": [1, 2]}
    right = {"a": [1, {"b": 3}], "c": "x", "new": 1, "n": [1]}
    paths = [p for p, _, _ in compat_harness.diff(left, right)]
    assert paths == ["/a/1/b", "/gone", "/n", "/new"]
    entry = compat_harness.Allowed("s", "/a", "r", "d")
    assert (
        entry.covers("s", "/a/1/b") and not entry.covers("s", "/ab") and not entry.covers("t", "/a")
    )
    assert compat_harness.expand(left, "/*/1") == ["/a/1", "/n/1"]
    assert len(compat_harness.unexplained("s", left, right, [entry])) == 3
    star = compat_harness.Allowed("s", "/*/1", "r", "d")
    assert star.covers("s", "/a/1/b") and not star.covers("s", "/a/0")
    # An exception on one side and a value on the other is one difference, not one per leaf.
    raised = {"raised": "KeyError"}
    assert list(compat_harness.diff({"x": raised}, {"x": {"k": 1, "j": 2}})) == [
        ("/x", raised, {"k": 1, "j": 2})
    ]


def test_rewording_entries_only_touch_their_text(compat_harness):
    reword = compat_harness.Allowed("*", "", "r", "d", replace=("new words", "old words"))
    theirs = {"p": "say old words now", "q": "other"}
    assert (
        compat_harness.unexplained("s", theirs, {"p": "say new words now", "q": "other"}, [reword])
        == []
    )
    assert compat_harness.unexplained(
        "s", theirs, {"p": "say new words now", "q": "else"}, [reword]
    )
