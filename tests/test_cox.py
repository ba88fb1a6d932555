"""Cox model of region: recovers simulated hazard ratios; the PH check detects violations."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.cox import cox_region
from analysis.errors import UserError


def _simulate(n: int, seed: int, crossing: bool = False) -> pl.DataFrame:
    """Exponential survival with HR 1.5 (norr) and 0.8 (syd) against stockholm_gotland,
    0.7 for women and 1.04 per year of age. With `crossing`, norr's hazard is 3 times
    the reference in the first year and 1/3 of it afterwards (not proportional)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["stockholm_gotland", "norr", "syd"], n)
    sex = rng.integers(1, 3, n)
    age = rng.uniform(40, 89, n)
    lin = (math.log(1.5) * (region == "norr") + math.log(0.8) * (region == "syd")
           + math.log(0.7) * (sex == 2) + math.log(1.04) * (age - 65))
    rate = 0.2 * np.exp(lin)
    t = rng.exponential(1 / rate)
    if crossing:
        base = 0.2 * np.exp(lin - math.log(1.5) * (region == "norr"))
        norr = region == "norr"
        early = rng.exponential(1 / (3 * base))
        late = 1 + rng.exponential(1 / (base / 3))
        t = np.where(norr, np.where(early < 1, early, late), t)
    c = rng.uniform(0, 8, n)
    return pl.DataFrame({"entry": 0.0, "time": np.minimum(t, c),
                         "event": (t < c).astype(np.int64), "region": region, "sex": sex,
                         "age_exact": age})


def test_cox_recovers_simulated_hazard_ratios() -> None:
    out = cox_region(_simulate(4000, seed=1))
    rows = {(r["term"], r["level"]): r for r in out.iter_rows(named=True)}
    assert out["reference"][0] == "stockholm_gotland"
    assert list(rows)[:2] == [("region", "syd"), ("region", "norr")]  # regions.yaml order
    for key, true in {("region", "norr"): 1.5, ("region", "syd"): 0.8, ("sex", "2"): 0.7,
                      ("age", "per year"): 1.04}.items():
        r = rows[key]
        se = (math.log(r["upper"]) - math.log(r["lower"])) / (2 * 1.959964)
        assert abs(math.log(r["hazard_ratio"]) - math.log(true)) < 3 * se
        # Wald interval on the log scale: the estimate is its geometric midpoint.
        assert r["hazard_ratio"] == pytest.approx(math.sqrt(r["lower"] * r["upper"]), rel=1e-9)
    assert out["n"][0] == 4000
    # Proportional hazards hold by construction: no strong evidence against them.
    assert rows[("region", "norr")]["ph_p_value"] > 0.001


def test_cox_ph_check_flags_crossing_hazards() -> None:
    out = cox_region(_simulate(4000, seed=2, crossing=True))
    norr = out.filter(pl.col("level") == "norr").row(0, named=True)
    assert norr["ph_p_value"] < 1e-6


def test_cox_reference_and_spline() -> None:
    data = _simulate(1500, seed=3)
    out = cox_region(data, reference="norr", age="spline")
    assert out["reference"][0] == "norr"
    assert set(out.filter(pl.col("term") == "region")["level"]) == {"stockholm_gotland", "syd"}
    spline = out.filter(pl.col("term") == "age")
    assert spline.height == 4 and spline["hazard_ratio"].is_null().all()
    with pytest.raises(UserError, match="reference region 'vast' has no cases"):
        cox_region(data, reference="vast")
