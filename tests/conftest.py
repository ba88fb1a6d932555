"""Shared test helpers."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest


def luhn_digit(nine: str) -> int:
    """Luhn check digit of the nine digits YYMMDDNNN (Skatteverket SKV 704)."""
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10


def make_pnr(birth: date, serial: int = 12, sex: int = 1) -> str:
    """A valid 12-digit personnummer YYYYMMDD-NNNC for a birth date and sex (1 man)."""
    third = (serial % 5) * 2 + (1 if sex == 1 else 0)
    nnn = f"{serial // 5 % 100:02d}{third}"
    nine = birth.strftime("%y%m%d") + nnn
    return f"{birth:%Y%m%d}-{nnn}{luhn_digit(nine)}"


@pytest.fixture(scope="session", autouse=True)
def kept_figures(tmp_path_factory):
    """One figure cache for the whole run (analysis.reporting.figure_cache): the suite
    publishes the same demo figures in many tests; each is drawn once. A test of
    drawing itself removes the variable."""
    root = tmp_path_factory.getbasetemp()
    # Under pytest-xdist every worker has its own base folder: share their parent's.
    kept = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "figures"
    kept.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BCR_FIGURE_CACHE", str(kept))
        yield


@pytest.fixture(scope="session")
def prepared():
    """The demo registry loaded and analysed once for the whole run (built-in renderer);
    tests read it and never change it."""
    from analysis.reporting.publish import prepare

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BCR_RENDERER", "builtin")
        yield prepare(None)


def tiny_registry(folder: Path, files: tuple[str, ...], seed: int,
                  years: tuple[int, int]) -> Path:
    """A tiny demo registry (scale 0.02, no faulty rows) with only ``files`` written, as
    CSV, into ``folder``: a publish of it takes seconds."""
    from analysis.demo import registry

    demo = registry.generate_demo(seed=seed, scale=0.02, years=years, error_rate=0.0)
    for name in files:
        demo.frames[name].write_csv(folder / f"{name}.csv")
    return folder
