"""The package's layout keeps the one-way flow of DESIGN.md §2: a layer imports only the
layers below it (read from the import statements, including those inside functions), and
no module grows past about 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analysis"

# Lowest first. The top-level modules errors, frames and resources are the base of all.
LAYERS = ["base", "data", "stats", "quality", "privacy", "demo", "reporting", "commands", "top"]
TOP = {"cli", "api", "__main__"}
MAX_LINES = 520


def layer_of(module: str) -> str:
    """The layer of a dotted module name inside the package (``analysis.stats.cox``)."""
    parts = module.split(".")[1:]
    if not parts:
        return "base"  # the package itself: only __version__
    if parts[0] in LAYERS:
        return parts[0]
    return "top" if parts[0] in TOP else "base"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every ``import analysis...`` / ``from analysis... import x``;
    ``from analysis.pkg import mod`` counts as importing ``analysis.pkg.mod``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("analysis")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis"):
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_layer_imports_only_layers_below_it(path: Path) -> None:
    own = LAYERS.index(layer_of(module_name(path)))
    upward = [f"line {line}: {mod} ({layer_of(mod)})" for line, mod in imported_modules(path)
              if LAYERS.index(layer_of(mod)) > own]
    assert not upward, f"{path.name} ({LAYERS[own]}) imports a higher layer: {upward}"


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from analysis.reporting import publish\n"
                   "from analysis.data import dictionary\n")
    found = imported_modules(bad)
    assert (2, "analysis.reporting.publish") in found
    assert sorted(layer_of(m) for _, m in found) == ["data", "reporting"]
    assert layer_of("analysis.errors") == "base" and layer_of("analysis.cli") == "top"


def test_the_layers_are_the_folders() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == set(LAYERS) - {"base", "top"}
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose == TOP | {"__init__", "errors", "frames", "resources"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_about_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES
