"""Run the same code on a data folder with the working tree and with a git revision, for
the compare scripts (bench/compare_ingest.py, bench/compare_release.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the working tree


def export(revision: str, into: Path) -> Path:
    """The files of ``revision`` (``git archive``) in ``into/base``."""
    base = into / "base"
    base.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    return base


def dump(script: str, code_root: Path, folder: Path, out: Path,
         registry: str | None = None) -> None:
    """Run ``script`` (given the data folder and ``out``) with the toolkit of
    ``code_root``, in its own process, for the configuration ``registry`` if given."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **({"BCR_REGISTRY": registry} if registry else {}))
    subprocess.run([sys.executable, "-c", script, str(folder), str(out)], check=True,
                   cwd=code_root, env=env)


def verdict(found: list[str]) -> str:
    """What a comparison found, for its line of output."""
    return "identical" if not found else "DIFFERENT: " + "; ".join(found)
