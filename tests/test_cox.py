"""Cox model of region: recovers simulated hazard ratios; the PH check detects violations."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import optimize

from analysis.errors import UserError
from analysis.stats.cox import cox_region, zph_test


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
    assert norr["ph_p_value"] < 1e-6 and norr["ph_df"] == 2  # one test of region, 2 df
    assert out["ph_global_p_value"][0] < 1e-6 and out["ph_global_df"][0] == 4


def test_separation_is_reported_not_printed(recwarn) -> None:
    data = _simulate(300, seed=4).with_columns(
        pl.when(pl.col("region") == "norr").then(0).otherwise(pl.col("event")).alias("event"))
    out = cox_region(data)  # norr has no deaths: its hazard ratio runs off towards 0
    assert "region_norr" in out["convergence_problem"][0]
    assert not [w for w in recwarn if "convergence" in str(w.message).lower()]
    assert cox_region(_simulate(1500, seed=3))["convergence_problem"][0] is None


def _efron_loglik(beta, gamma, time, event, x, g):
    """Efron partial log-likelihood with covariates x and x * g(t) (g at death times)."""
    total = 0.0
    for t in np.unique(time[event == 1]):
        z = x @ beta + (x @ gamma) * g[t]
        at_risk, died = time >= t, (time == t) & (event == 1)
        d = died.sum()
        total += z[died].sum() - sum(np.log(np.exp(z[at_risk]).sum()
                                            - m / d * np.exp(z[died]).sum()) for m in range(d))
    return total


def test_zph_equals_the_score_test_computed_by_numerical_derivatives() -> None:
    # The PH test is the score test for adding x * g(t), g = 1 - KM(t-) (R cox.zph since
    # survival 3.0): check it against the score and information of the Efron
    # log-likelihood taken by central differences, on data with tied death times.
    rng = np.random.default_rng(5)
    n = 40
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(0, 1, n)]).astype(float)
    time = np.ceil(rng.exponential(1 / (0.5 * np.exp(0.7 * x[:, 0] - 0.4 * x[:, 1])), n) * 4)
    event = (rng.random(n) < 0.8).astype(np.int64)
    km, g = 1.0, {}
    for t in np.unique(time):
        if event[time == t].any():
            g[t] = 1 - km
            km *= 1 - event[time == t].sum() / (time >= t).sum()
    beta = optimize.minimize(lambda b: -_efron_loglik(b, np.zeros(2), time, event, x, g),
                             np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x
    result = zph_test(time, event, x, beta, {"a": [0], "b": [1]})
    h = 1e-4
    for name, cols in {"a": [0], "b": [1], "global": [0, 1]}.items():
        def f(theta, cols=cols):
            gamma = np.zeros(2)
            gamma[cols] = theta[2:]
            return _efron_loglik(theta[:2], gamma, time, event, x, g)
        theta0, m = np.r_[beta, np.zeros(len(cols))], 2 + len(cols)
        eye = np.eye(m) * h
        score = np.array([(f(theta0 + e) - f(theta0 - e)) / (2 * h) for e in eye])
        info = -np.array([[(f(theta0 + a + b) - f(theta0 + a - b) - f(theta0 - a + b)
                            + f(theta0 - a - b)) / (4 * h * h) for b in eye] for a in eye])
        expected = score @ np.linalg.solve(info, score)
        assert result[name][0] == pytest.approx(expected, rel=1e-4), name
        assert result[name][1] == len(cols)


def test_cox_reference_and_spline() -> None:
    data = _simulate(1500, seed=3)
    out = cox_region(data, reference="norr", age="spline")
    assert out["reference"][0] == "norr"
    assert set(out.filter(pl.col("term") == "region")["level"]) == {"stockholm_gotland", "syd"}
    spline = out.filter(pl.col("term") == "age")
    assert spline.height == 4 and spline["hazard_ratio"].is_null().all()
    with pytest.raises(UserError, match="reference region 'vast' has no cases"):
        cox_region(data, reference="vast")
