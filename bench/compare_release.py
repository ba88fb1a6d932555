"""Check that the run's protected release is the same as another version of the code makes.

    python bench/compare_release.py [--base REF] [--registry ID] DATA_DIR [DATA_DIR ...]

For each folder, ``release_for`` (analysis.privacy.release, with the registries' match
passed in as ``bcr publish`` does) is run by the working tree's code and by the code of
git revision REF (default ``main``, exported with ``git archive``), each in its own
process, and the release's cells (keys, published count, flag, hidden, sensitive) are
compared exactly (polars.testing.assert_frame_equal), as are the equations and
inequalities. Prints the CPU seconds of each release (``time.process_time``, robust to
the load of a shared machine) and exits with status 1 when anything differs.
``--registry``: the configuration to run with (BCR_REGISTRY), e.g. ``no``; ``--cache
DIR``: keep the base revision's releases in DIR and reuse them on the next call.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from revisions import ROOT, dump, export, verdict

DUMP = """
import sys, time
from pathlib import Path
from analysis.data.ingest import load_data
from analysis.privacy.release import release_for
from analysis.quality.coverage import match_registries
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
data = load_data(folder)
linked = (match_registries(data.cases, data.cancer_registry,
                           subregistries=data.subregistries)
          if data.cancer_registry is not None else None)
start = time.process_time()
release = release_for(data, linked=linked)
(out / "cpu.txt").write_text(f"{time.process_time() - start:.2f}")
release.cells.write_parquet(out / "cells.parquet")
(out / "relations.txt").write_text(repr((release.equations, release.inequalities)))
"""


def _dump(code_root: Path, folder: Path, out: Path, registry: str | None) -> float:
    dump(DUMP, code_root, folder, out, registry)
    return float((out / "cpu.txt").read_text())


def _differences(a: Path, b: Path) -> list[str]:
    import polars as pl
    from polars.testing import assert_frame_equal

    found = []
    try:
        assert_frame_equal(pl.read_parquet(a / "cells.parquet"),
                           pl.read_parquet(b / "cells.parquet"), check_exact=True)
    except AssertionError as exc:
        found.append(f"cells: {str(exc).splitlines()[0]}")
    if (a / "relations.txt").read_text() != (b / "relations.txt").read_text():
        found.append("equations or inequalities")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--registry", help="configuration id (BCR_REGISTRY), e.g. no")
    parser.add_argument("--cache", type=Path, help="folder for the base's releases")
    args = parser.parse_args()
    differ = False
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp))
        rev = subprocess.run(["git", "rev-parse", args.base], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        for i, folder in enumerate(args.data):
            name = f"{rev}-{args.registry or 'default'}-{folder.resolve()}".replace("/", "_")
            old = (args.cache / name) if args.cache else Path(tmp) / f"old{i}"
            new = Path(tmp) / f"new{i}"
            if (old / "cpu.txt").exists():
                before = float((old / "cpu.txt").read_text())
            else:
                before = _dump(base, folder.resolve(), old, args.registry)
            after = _dump(ROOT, folder.resolve(), new, args.registry)
            found = _differences(old, new)
            differ = differ or bool(found)
            print(f"{folder}: release CPU {before:.2f} s at {args.base}, {after:.2f} s now; "
                  f"{verdict(found)}", flush=True)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
