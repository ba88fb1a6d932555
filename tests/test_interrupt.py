"""Interrupting a publishing run: Ctrl-C stops it and its workers within 2 s, a killed
main process takes its workers with it, and the next run cleans up what was left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_registry

ROOT = Path(__file__).resolve().parents[1]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "BCR_RENDERER": "builtin", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "analysis", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, words: str, limit: float = 240) -> list[str]:
    """Read the run's progress lines (not a terminal: one line per phase) up to `words`."""
    seen, end = [], time.monotonic() + limit
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if words in line:
            return seen
    proc.kill()
    pytest.fail(f"the run never reached '{words}': {''.join(seen)}")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("tiny"),
                         ("myeloma", "population", "lifetable", "cancer_registry"), 3,
                         (2024, 2025))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_stops_a_publish_and_its_workers_and_the_next_run_cleans_up(data, tmp_path):
    out = tmp_path / "reports"
    publish = ["publish", "--data", str(data), "--out", str(out), "--format", "html",
               "--workers", "2"]
    proc = _start(*publish)
    _wait_for(proc, "rendering")  # workers drawn figures, now render documents
    below = _descendants(proc.pid)
    assert below, "the run should have worker processes"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=10)[1]
    stopped = time.monotonic() - start
    assert stopped < 2.0, f"took {stopped:.1f} s to stop"
    assert proc.returncode == 130 and "interrupted" in rest and "Traceback" not in rest
    time.sleep(0.3)
    assert not _alive(below), "workers or their tools outlived the run"
    assert not list(out.rglob(".staging-*"))

    # A main process killed outright: its workers notice and end; its staging stays ...
    proc = _start(*publish)
    _wait_for(proc, "rendering")
    below = _descendants(proc.pid)
    proc.kill()
    proc.wait()
    end = time.monotonic() + 3
    while _alive(below) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _alive(below), "workers kept running after the main process was killed"
    assert list(out.rglob(".staging-*"))
    # ... until the next run into the same folder removes it.
    proc = _start("report", "--subregistry", "myeloma", "--data", str(data), "--out",
                  str(out), "--format", "html")
    lines = proc.communicate(timeout=300)[1]
    assert proc.returncode == 0, lines
    assert not list(out.rglob(".staging-*"))
    assert "subregistry-myeloma" in lines.splitlines()[-1]  # the last line names the file
