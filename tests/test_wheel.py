"""The toolkit works when installed from its wheel, not only from the checkout: the data
dictionary, the templates and _quarto.yml travel inside it (analysis/resources.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600
        ) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        dist, dict(os.environ))
    (found,) = dist.glob("bcr_toolkit-*.whl")
    return found


def test_wheel_carries_the_dictionary_templates_and_quarto_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("data_dictionary/registry.yaml", "data_dictionary/variables/core.yaml",
                    "templates/report.qmd.j2", "templates/quarto-compat.lua", "_quarto.yml",
                    "templates/interactive.js", "data_dictionary/interactive.yaml"):
        assert f"analysis/_resources/{shipped}" in names
    assert not any(n.startswith(("tests/", "data_dictionary/")) for n in names)


def test_installed_wheel_runs_demo_validate_and_a_report(wheel: Path, tmp_path: Path) -> None:
    # A fresh environment outside the checkout; the dependencies are this one's (a .pth
    # line adds its site-packages without its .pth files, so not the editable checkout).
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "BCR_CACHE_DIR": str(tmp_path / "cache"), "BCR_RENDERER": "builtin"}
    work = tmp_path / "work"
    work.mkdir()
    run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
         "--no-index", str(wheel)], work, env)
    where = run([str(env_dir / "bin" / "python"), "-c",
                 "import analysis.resources as r; print(r.root())"], work, env).stdout
    assert where.strip().endswith("site-packages/analysis/_resources")
    bcr = str(env_dir / "bin" / "bcr")
    assert run([bcr, "--version"], work, env).stdout.startswith("bcr ")
    run([bcr, "dictionary"], work, env)
    run([bcr, "demo", "--out", "demo", "--years", "2019-2024", "--scale", "0.1",
         "--error-rate", "0"], work, env)
    assert "All rows accepted" in run([bcr, "validate", "demo"], work, env).stdout
    run([bcr, "report", "--data", "demo", "--region", "syd", "--format", "html,interactive",
         "--out", "out"], work, env)
    (html,) = (work / "out").rglob("region-syd-*.html")
    assert "Syd" in html.read_text(encoding="utf-8")
    (page,) = (work / "out").rglob("interactive-syd-*.html")
    assert "vegaEmbed" in page.read_text(encoding="utf-8")
