"""Benchmark: disclosure control, identity validation, pseudonymisation and erasure.

Run: /tmp/venv/bin/python bench/bench_disclosure.py
Prints wall times and the peak resident memory of the process:
- suppress() on a hospital (60, nested in 6 regions) x sex x 18 age groups table with
  every margin (3 843 rows, many small cells);
- valid_mask() on 1 000 000 personnummer and 1 000 000 fødselsnummer;
- pseudonyms() on 1 000 000 identities (200 000 distinct);
- erase() of one person from a folder of 8 extracts with 500 000 rows in all (CSV).
"""

from __future__ import annotations

import itertools
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from analysis.data.identity import valid_mask
from analysis.privacy.disclosure import Rules, suppress
from analysis.privacy.erasure import erase
from analysis.privacy.pseudonymise import pseudonyms

KEY = b"0123456789abcdef0123456789abcdef"


def _table() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    regions = {f"r{i}": [f"h{i}{j:02d}" for j in range(10)] for i in range(6)}
    ages = [f"a{i:02d}" for i in range(18)]
    leaves = {(r, h, s, a): int(rng.poisson(rng.choice([1.5, 6.0, 25.0])))
              for r, hs in regions.items() for h in hs for s in ("1", "2") for a in ages}
    cells: dict[tuple, int] = {}
    for (r, h, s, a), v in leaves.items():
        for key in itertools.product((r, None), (h, None), (s, None), (a, None)):
            if key[0] is None and key[1] is not None:
                continue  # a hospital belongs to one region
            cells[key] = cells.get(key, 0) + v
    return pl.DataFrame([(*k, v) for k, v in cells.items()], orient="row",
                        schema={"region": pl.String, "hospital": pl.String, "sex": pl.String,
                                "age_group": pl.String, "n": pl.Int64})


def _personnummer(n: int) -> pl.Series:
    rng = np.random.default_rng(1)
    born = np.datetime64("1920-01-01") + rng.integers(0, 36_000, n).astype("timedelta64[D]")
    text = pl.Series(born).dt.strftime("%Y%m%d")
    serial = pl.Series(rng.integers(1, 1000, n)).cast(pl.String).str.zfill(3)
    return text + "-" + serial + pl.Series(rng.integers(0, 10, n)).cast(pl.String)


def _timed(label: str, fn) -> object:
    t = time.perf_counter()
    out = fn()
    print(f"{label:<48} {time.perf_counter() - t:7.2f} s")
    return out


def main() -> None:
    table = _table()
    out = _timed(f"suppress, {table.height} rows, all margins",
                 lambda: suppress(table, ["region", "hospital", "sex", "age_group"],
                                  margins=["region", "hospital", "sex", "age_group"],
                                  config=Rules(k=5)))
    print(f"  primary {out['suppressed'].eq('primary').sum()}, "
          f"secondary {out['suppressed'].eq('secondary').sum()}")
    pnr = _personnummer(1_000_000)
    _timed("valid_mask personnummer, 1 000 000", lambda: valid_mask(pnr, "personnummer"))
    fnr = pl.Series(["01019012480"] * 1_000_000)
    _timed("valid_mask fodselsnummer, 1 000 000", lambda: valid_mask(fnr, "fodselsnummer"))
    ids = pnr.head(200_000).sample(1_000_000, with_replacement=True, seed=3)
    _timed("pseudonyms, 1 000 000 (200 000 distinct)",
           lambda: pseudonyms(ids, KEY, "personnummer"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, name in enumerate(["aml", "all", "cll", "cml", "lymphoma", "myeloma", "mds",
                                  "mpn"]):
            part = pnr.slice(i * 62_500, 62_500)
            pl.DataFrame({"case_id": [f"{name}{j}" for j in range(62_500)],
                          "person_id": part, "sex": ["1"] * 62_500}).write_csv(root / f"{name}.csv")
        person = pnr.filter(valid_mask(pnr, "personnummer"))[0]
        _timed("erase, 8 CSV extracts, 500 000 rows",
               lambda: erase(root, person, "personnummer", key=KEY))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
