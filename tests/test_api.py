"""The README's "From Python" example runs as written, and its numbers are the CLI's."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

README = Path(__file__).resolve().parent.parent / "README.md"


def python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_runs_on_the_demo(capsys) -> None:
    scope: dict = {}
    exec(compile(python_example(), "README.md", "exec"), scope)  # noqa: S102
    rates, public = scope["rates"], scope["public"]
    assert rates.height == 6 and public.height == 6  # the six regions
    # Every myeloma case of 2021-2025 is counted once, in its region.
    cases = scope["myeloma"].filter(pl.col("year").is_between(2021, 2025))
    assert rates["n"].sum() == cases.height
    # The published table shows the same rows; nothing under k is in it unmasked.
    shown = public.filter(pl.col("n").is_not_null())
    assert (shown["n"] >= 5).all()
    assert scope["km"].columns[:2] == ["region", "time"]
    assert "region" in capsys.readouterr().out


def test_api_names_resolve() -> None:
    from analysis import api

    for name in api.__all__:
        assert callable(getattr(api, name)), name
