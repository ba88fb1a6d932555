"""A run checks every promised output before it reports success, holds a lock on its
folder, cleans up after a killed run, and says a full disk in one line."""

from __future__ import annotations

import errno
import shutil
import subprocess
from pathlib import Path

import pytest
from test_reporting_render import _job

from analysis.errors import UserError
from analysis.reporting import render, staging
from analysis.reporting.checks import OutputError


@pytest.fixture(autouse=True)
def builtin(monkeypatch):
    monkeypatch.setenv("BCR_RENDERER", "builtin")


def _writes_nothing(directory: Path, job, fmt: str) -> Path:  # noqa: ANN001
    return directory / f"{job.stem}.{fmt}"


def _writes_empty(directory: Path, job, fmt: str) -> Path:  # noqa: ANN001
    out = directory / f"{job.stem}.{fmt}"
    out.write_bytes(b"")
    return out


def _writes_html_without_sections(directory: Path, job, fmt: str) -> Path:  # noqa: ANN001
    out = directory / f"{job.stem}.{fmt}"
    out.write_text("<html><body><h1>Something else</h1></body></html>", encoding="utf-8")
    return out


def _writes_a_broken_pdf(directory: Path, job, fmt: str) -> Path:  # noqa: ANN001
    out = directory / f"{job.stem}.{fmt}"
    out.write_bytes(b"%PDF-1.7\nnot really\n")
    return out


@pytest.mark.parametrize(("renderer", "fmt", "message"), [
    (_writes_nothing, "html", "HTML output doc-a.html was not written"),
    (_writes_empty, "html", "HTML output doc-a.html is empty"),
    (_writes_empty, "pdf", "PDF output doc-a.pdf is empty"),
    (_writes_html_without_sections, "html", "sections missing from the HTML: Översikt"),
    (_writes_a_broken_pdf, "pdf", "doc-a.pdf is not a readable PDF"),
])
def test_a_renderer_that_writes_nothing_or_junk_fails_the_run(tmp_path, monkeypatch, renderer,
                                                              fmt, message):
    render.render_all([_job()], tmp_path, [fmt], workers=1)
    before = (tmp_path / "doc-a" / f"doc-a.{fmt}").read_bytes()
    monkeypatch.setattr(render, "_render_builtin", renderer)
    with pytest.raises(OutputError, match=f"document 'doc-a': .*{message}"):
        render.render_all([_job()], tmp_path, [fmt], workers=1)
    assert (tmp_path / "doc-a" / f"doc-a.{fmt}").read_bytes() == before
    assert not list(tmp_path.glob(".staging-*"))


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_holds_it(tmp_path):
    with staging.locked(tmp_path), pytest.raises(UserError, match="another run"):
        render.render_all([_job()], tmp_path, ["html"], workers=1)
    render.render_all([_job()], tmp_path, ["html"], workers=1)  # free again
    assert (tmp_path / "doc-a" / "doc-a.html").stat().st_size > 0


def test_what_a_killed_run_left_is_cleaned_up_by_the_next_run(tmp_path):
    render.render_all([_job()], tmp_path, ["html"], workers=1)
    (tmp_path / ".staging-abc123" / "doc-a").mkdir(parents=True)
    # killed between setting the old version aside and moving the new one in
    (tmp_path / "doc-a").rename(tmp_path / ".old-doc-a")
    render.render_all([_job("doc-b")], tmp_path, ["html"], workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [staging.LOCK_FILE, "doc-a", "doc-b"]
    assert (tmp_path / "doc-a" / "doc-a.html").stat().st_size > 0


def test_a_full_disk_is_one_line_without_the_tool_output(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "pandoc: out.html: withFile: "
                                           "resource exhausted (No space left on device)\n"
                                           "CallStack (from HasCallStack):\n  error, ...")

    monkeypatch.setattr(render.subprocess, "run", full)
    with pytest.raises(render.DiskFullError) as err:
        render.render_all([_job()], tmp_path, ["html"], workers=1)
    assert "\n" not in str(err.value) and "CallStack" not in str(err.value)
    assert "no space left" in str(err.value) and str(err.value).count(".staging") == 0

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(render.tempfile, "mkdtemp", no_room)
    with pytest.raises(render.DiskFullError):
        render.render_all([_job()], tmp_path, ["html"], workers=1)


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils not installed")
def test_pdfs_pass_poppler_without_errors(tmp_path):
    render.render_all([_job()], tmp_path, ["pdf"], workers=1)
    checked = subprocess.run(["pdfinfo", str(tmp_path / "doc-a" / "doc-a.pdf")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and checked.stderr == ""
    assert "Tagged:          yes" in checked.stdout  # still a tagged (accessible) PDF
