"""Check that ingest gives the same results as another version of the code.

    python bench/compare_ingest.py [--base REF] DATA_DIR [DATA_DIR ...]
    python bench/compare_ingest.py --messy DEMO_CSV_DIR OUT_DIR   (make a messy copy)

For each folder, ``load_data`` is run by the working tree's code and by the code of git
revision REF (default ``main``, exported with ``git archive``), each in its own process,
and compared frame by frame, exactly (polars.testing.assert_frame_equal): the cases, the
cancer registry, population and life table, the summary (read, accepted, rejected per
file), every failure (file, row, case_id, column, value, rule, message) and every file's
rejected rows. Exit status 1 when anything differs.

The demo's own faults (``bcr demo --error-rate``) exercise the date-order, code-list,
identity and uniqueness rules. ``--messy`` copies a CSV demo folder with about 0.4 % of
its cells rewritten as an export may hold them: surrounding blanks, Excel's ``12.0`` and
``2020-01-31 00:00``, impossible or badly written dates, text in number columns, decimal
commas, quoted empty texts, identity-shaped and overlong values; so that the type,
required, pattern, enum, minimum and future-date rules are exercised too.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

from revisions import ROOT, dump, export, verdict

DUMP = """
import sys
from pathlib import Path
from analysis.data.ingest import load_data
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
data = load_data(folder)
data.cases.write_parquet(out / "cases.parquet")
for name in ("cancer_registry", "population", "lifetable"):
    if getattr(data, name) is not None:
        getattr(data, name).write_parquet(out / f"{name}.parquet")
data.summary().write_parquet(out / "summary.parquet")
data.failures().write_parquet(out / "failures.parquet")
for i, check in enumerate(data.checks):
    check.rejected.write_parquet(out / f"rejected_{i}_{check.dataset}.parquet")
    (out / f"extra_{i}_{check.dataset}.txt").write_text(repr(check.extra_columns))
"""


def _differences(a: Path, b: Path) -> list[str]:
    import polars as pl
    from polars.testing import assert_frame_equal

    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return [f"different outputs: {names} / {sorted(p.name for p in b.iterdir())}"]
    found = []
    for name in names:
        if name.endswith(".txt"):
            if (a / name).read_text() != (b / name).read_text():
                found.append(name)
            continue
        try:
            assert_frame_equal(pl.read_parquet(a / name), pl.read_parquet(b / name),
                               check_exact=True)
        except AssertionError as exc:
            found.append(f"{name}: {str(exc).splitlines()[0]}")
    return found


def make_messy(source: Path, target: Path, seed: int = 7, share: float = 0.004) -> None:
    """A copy of a CSV demo folder with a share of its cells rewritten (see the module's
    docstring)."""
    import polars as pl

    from analysis.data import dictionary as dd

    rng = random.Random(seed)
    # An identity number in a text column: one of the folder's own, none written here.
    extract = sorted(p for p in source.glob("*.csv") if p.stem in dd.subregistry_ids())[0]
    an_id = pl.read_csv(extract, n_rows=1, infer_schema=False)["person_id"][0]
    forms = {
        "date": lambda v: rng.choice([f" {v}", f"{v} ", f"{v} 00:00", f"{v}T00:00:00",
                                      "2020-02-30", "2020-1-5", "20200105", "abc", "  ",
                                      "", "2099-01-01", "1800-01-01", f"{v} 12:00"]),
        "integer": lambda v: rng.choice([f" {v}", f"{v}.0", "1.5", "x", " ", "", "+1",
                                         "-3", "99999999999999999999", "1,0"]),
        "number": lambda v: rng.choice([f" {v}", v.replace(".", ","), "abc", "", "-1",
                                        "1e-3", " 0.5 "]),
        "string": lambda v: rng.choice([f" {v}", f"{v} ", "  ", "", an_id,
                                        v.lower(), "ÅÄÖ", '"', "a" * 80]),
    }
    shutil.copytree(source, target)
    known = {*dd.subregistry_ids(), "cancer_registry", "population", "lifetable"}
    for path in sorted(target.glob("*.csv")):
        if path.stem not in known:
            continue
        types = {f.name: f.type for f in dd.fields(path.stem)}
        frame = pl.read_csv(path, infer_schema=False)
        columns = {}
        for name in frame.columns:
            values = frame.get_column(name).to_list()
            for i in range(len(values)):
                if rng.random() < share:
                    values[i] = forms[types.get(name, "string")](values[i] or "1")
            columns[name] = pl.Series(name, values, dtype=pl.String)
        pl.DataFrame(columns).write_csv(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--messy", action="store_true",
                        help="make a messy copy of DATA[0] in DATA[1] instead")
    args = parser.parse_args()
    if args.messy:
        make_messy(args.data[0], args.data[1])
        return
    differ = False
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp))
        for i, folder in enumerate(args.data):
            old, new = Path(tmp) / f"old{i}", Path(tmp) / f"new{i}"
            dump(DUMP, base, folder.resolve(), old)
            dump(DUMP, ROOT, folder.resolve(), new)
            found = _differences(old, new)
            differ = differ or bool(found)
            print(f"{folder}: {len(list(old.iterdir()))} outputs, {verdict(found)}", flush=True)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
