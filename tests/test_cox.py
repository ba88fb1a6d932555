"""Cox model of region: recovers simulated hazard ratios; the PH check detects violations;
equals R's coxph and cox.zph on a small data set with ties."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import optimize, stats

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


# 60 cases: time (years, in quarters, so that deaths tie: 28 deaths at 10 distinct
# times), event, region (S stockholm_gotland, Y syd, N norr), sex, age at diagnosis.
R_DATA = """
    1.75 1 N 2 67.9, 2.75 1 S 1 59.4, 1 1 S 2 67.0, 4 0 Y 2 49.1, 3 1 Y 2 84.8
    1 1 Y 2 88.5, 4.25 0 S 2 47.6, 2.25 0 Y 2 60.8, 1.5 0 Y 1 77.1, 3.5 0 Y 1 58.8
    3 0 N 1 70.0, 3.75 0 N 2 63.3, 0.5 1 N 2 79.1, 0.5 1 N 2 87.2, 1.25 1 N 2 84.1
    1.5 0 S 1 72.3, 2 0 N 1 52.1, 2.5 0 Y 2 86.7, 4.75 0 S 1 46.0, 4 0 S 1 58.1
    1.75 0 S 1 57.4, 4.5 0 N 2 74.6, 0.25 1 N 1 66.4, 1.75 1 N 1 49.1, 1 0 S 1 45.6
    1.75 0 Y 1 71.6, 0.5 1 Y 1 66.6, 0.5 1 N 2 71.5, 0.5 1 S 1 69.8, 1 1 Y 1 84.2
    1 1 Y 2 85.4, 0.5 1 N 1 53.3, 0.5 0 Y 1 86.5, 0.75 1 Y 2 79.7, 2 0 Y 2 73.1
    5.5 0 Y 1 74.0, 0.5 1 S 1 69.0, 1.5 0 S 2 85.4, 2.75 0 S 2 55.3, 3.25 0 S 2 71.4
    1.5 1 N 1 80.8, 3.5 0 Y 2 50.9, 2.75 0 S 1 72.1, 0.5 1 Y 1 62.7, 2.25 1 S 1 78.7
    0.5 1 Y 1 48.0, 1.25 1 N 2 71.7, 0.25 1 S 1 82.7, 0.5 0 Y 2 72.6, 1.5 0 Y 1 59.1
    0.75 1 N 1 73.9, 3.75 0 Y 2 59.9, 1.25 1 S 2 74.4, 0.5 1 S 2 50.6, 2 0 Y 2 57.3
    1.75 1 Y 1 46.4, 2.5 0 S 2 48.7, 3 0 Y 1 69.4, 4.75 0 Y 1 55.2, 5.75 0 S 2 67.7
"""
R_REGION = {"S": "stockholm_gotland", "Y": "syd", "N": "norr"}

# R 4.2.2, survival 3.5-3 (Debian bookworm), with the rows above in cox.csv
# (columns time,event,region,sex,age; region by its full id):
#   d <- read.csv("cox.csv")
#   d$region <- factor(d$region, levels = c("stockholm_gotland", "syd", "norr"))
#   d$sex_woman <- as.integer(d$sex == 2)
#   fit <- coxph(Surv(time, event) ~ region + sex_woman + age, data = d, ties = "efron")
#   s <- summary(fit)
#   format(cbind(coef(fit), sqrt(diag(vcov(fit))), exp(coef(fit)), s$conf.int[, 3:4],
#                s$coefficients[, 5]), digits = 17)
#   format(cox.zph(fit)$table, digits = 17)
# coxph converged in 4 iterations; with control = coxph.control(eps = 1e-14) (5
# iterations) every value below is the same to 6e-13.
# (term, level): coef, se(coef), exp(coef), lower .95, upper .95, Pr(>|z|)
R_COXPH = {
    ("region", "syd"): (-0.276249474041785126, 0.495359129724546210, 0.758623650243715142,
                        0.287326658448224581, 2.002981017554289256, 0.577066233624669578),
    ("region", "norr"): (0.676165529848007152, 0.472792499125668897, 1.966323449574193249,
                         0.778418687671158516, 4.967028630713860693, 0.152673160738505620),
    ("sex", "2"): (-0.403429696693525353, 0.389298400170330849, 0.668024989513723577,
                   0.311473648366755784, 1.432729185774807013, 0.300062488176105646),
    ("age", "per year"): (0.040137431580087077, 0.017843950023908355, 1.040953824291232621,
                          1.005177288269195834, 1.078003728250123583, 0.024489729030940037),
}
# cox.zph(fit)$table: chisq per term (region 2 df, sex_woman 1, age 1) and GLOBAL (4 df)
R_ZPH = {"region": 0.16058527883448778, "sex": 0.50916185193157359,
         "age": 2.51857912612258872, "global": 2.68732168989646736}


def test_cox_equals_r_coxph_to_1e10() -> None:
    records = [rec.split() for line in R_DATA.strip().splitlines() for rec in line.split(",")]
    data = pl.DataFrame(
        [(float(t), int(e), R_REGION[r], int(s), float(a)) for t, e, r, s, a in records],
        schema={"time": pl.Float64, "event": pl.Int64, "region": pl.String,
                "sex": pl.Int64, "age_exact": pl.Float64}, orient="row")
    assert data.height == 60 and data["event"].sum() == 28
    out = cox_region(data)
    assert out["reference"][0] == "stockholm_gotland"
    z = stats.norm.ppf(0.975)
    for row in out.iter_rows(named=True):
        coef, se, hr, lower, upper, p = R_COXPH[(row["term"], row["level"])]
        ours_se = (math.log(row["upper"]) - math.log(row["lower"])) / (2 * z)
        for name, ours, ref in (("coef", math.log(row["hazard_ratio"]), coef),
                                ("se", ours_se, se), ("hr", row["hazard_ratio"], hr),
                                ("lower", row["lower"], lower), ("upper", row["upper"], upper),
                                ("p", row["p_value"], p),
                                ("zph", row["ph_statistic"], R_ZPH[row["term"]])):
            assert abs(ours / ref - 1) < 1e-10, (row["term"], row["level"], name)
    assert abs(out["ph_global_statistic"][0] / R_ZPH["global"] - 1) < 1e-10
