"""Incidence rates, standard populations, SIR, rate ratios and APC against known answers."""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from analysis.cli import app
from analysis.errors import InputError, UserError
from analysis.stats import incidence as inc
from analysis.stats import trend
from analysis.stats.standard_populations import (
    available,
    load_standard,
    reweight,
)

POP_SCHEMA = {"year": pl.Int64, "county": pl.String, "sex": pl.Int64, "age": pl.Int64,
              "population": pl.Float64, "region": pl.String}
REGION = {"01": "stockholm_gotland", "25": "norr"}


def population(per_age: dict[tuple[int, str, int], list[float]]) -> pl.DataFrame:
    """Population rows from {(year, county, sex): [py at age 0, 1, ..., last (open)]}."""
    rows = [(y, c, s, a, float(v), REGION[c])
            for (y, c, s), values in per_age.items() for a, v in enumerate(values)]
    return pl.DataFrame(rows, schema=POP_SCHEMA, orient="row")


def cases(rows: list[tuple[int, str, int, int]], subregistry: str = "aml") -> pl.DataFrame:
    """Case rows from (year, county, sex, age); the other canonical columns are filled."""
    return pl.DataFrame(
        [(subregistry, f"c{i}", f"19500101-{i:04d}", s, y, c, REGION[c], a, "C92.0", None)
         for i, (y, c, s, a) in enumerate(rows)],
        schema={"subregistry": pl.String, "case_id": pl.String, "person_id": pl.String,
                "sex": pl.Int64, "year": pl.Int64, "county": pl.String, "region": pl.String,
                "age": pl.Int64, "icd10": pl.String, "morphology": pl.String},
        orient="row")


def two_group_population(py_young: float, py_old: float, county: str = "01",
                         years: tuple[int, ...] = (2020,)) -> dict:
    """Ages 0..99 (99 open); ages 0-49 hold py_young, 50-99 py_old, split evenly by sex."""
    ages = [py_young / 100] * 50 + [py_old / 100] * 50
    return {(y, county, s): ages for y in years for s in (1, 2)}


@pytest.fixture
def two_group_standard(tmp_path: Path):
    path = tmp_path / "std.csv"
    path.write_text("age_group,weight\n0-49,40\n50+,60\n")
    return load_standard(path)


# --- exact Poisson limits ------------------------------------------------------------------

def test_exact_poisson_limits_match_published_table():
    # Garwood (1936) exact 95 % limits, as tabulated e.g. in Breslow & Day (1987),
    # vol. II, appendix II: x=0: (0, 3.689); 1: (0.0253, 5.572); 3: (0.619, 8.767);
    # 10: (4.795, 18.39).
    lower, upper = inc.exact_poisson_limits([0, 1, 3, 10])
    assert list(lower) == pytest.approx([0, 0.025318, 0.618672, 4.795389], abs=1e-5)
    assert list(upper) == pytest.approx([3.688879, 5.571643, 8.767273, 18.390356], abs=1e-5)


def test_crude_rate_hand_computed():
    # 3 cases in 2 000 person-years: 150 per 100 000, limits 0.618672 and 8.767273 / 2 000.
    pop = population(two_group_population(1000, 1000))
    out = inc.crude_rates(cases([(2020, "01", 1, 60)] * 3), pop, age_breaks=[0, 50])
    row = out.row(0, named=True)
    assert (row["n"], row["person_years"]) == (3, 2000.0)
    assert row["estimate"] == pytest.approx(150.0)
    assert row["lower"] == pytest.approx(0.618672 / 2000 * 1e5, rel=1e-5)
    assert row["upper"] == pytest.approx(8.767273 / 2000 * 1e5, rel=1e-5)
    assert "Garwood" in row["method"]


def test_age_specific_rates_and_zero_case_group():
    # 0-49: 0 cases / 1 000 py -> rate 0, upper -ln(0.025) = 3.688879 per 1 000 py;
    # 50+: 1 case / 2 000 py -> 50 per 100 000, limits 0.025318 and 5.571643 / 2 000.
    pop = population(two_group_population(1000, 2000))
    out = inc.crude_rates(cases([(2020, "01", 2, 77)]), pop, ["age_group"],
                          age_breaks=[0, 50])
    assert out.get_column("age_group").to_list() == ["0-49", "50+"]
    young, old = out.rows(named=True)
    assert (young["n"], young["estimate"], young["lower"]) == (0, 0.0, 0.0)
    assert young["upper"] == pytest.approx(-math.log(0.025) / 1000 * 1e5, rel=1e-6)
    assert old["estimate"] == pytest.approx(50.0)
    assert old["lower"] == pytest.approx(0.025318 / 2000 * 1e5, rel=1e-4)
    assert old["upper"] == pytest.approx(5.571643 / 2000 * 1e5, rel=1e-6)


def test_default_age_groups_fold_open_population_age_into_85_plus():
    # Population ages 0..100 (100+ open); ages 85..100 make up 85+: 16 ages x 10 py.
    pop = population({(2020, "01", s): [10.0] * 101 for s in (1, 2)})
    out = inc.crude_rates(cases([(2020, "01", 1, 103)]), pop, ["age_group"])
    assert out.height == 18
    last = out.row(17, named=True)
    assert (last["age_group"], last["n"], last["person_years"]) == ("85+", 1, 320.0)


# --- direct standardisation ----------------------------------------------------------------

def test_standardised_rate_fay_feuer_hand_computed(two_group_standard):
    # Weights 0.4 / 0.6; 0-49: 2 cases / 1 000 py, 50+: 5 cases / 2 000 py.
    # w_i/n_i = 4e-4, 3e-4; ASR y = 8e-4 + 15e-4 = 2.3e-3 (230 per 100 000);
    # v = (4e-4)^2*2 + (3e-4)^2*5 = 7.7e-7; w_M = 4e-4.
    # Fay & Feuer (1997), eq. for the gamma interval in chi-square form:
    # lower = v/(2y) chi2(0.025; 2y^2/v),
    # upper = (v+wM^2)/(2(y+wM)) chi2(0.975; 2(y+wM)^2/(v+wM^2)).
    y, v, wm = 2.3e-3, 7.7e-7, 4e-4
    lower = v / (2 * y) * stats.chi2.ppf(0.025, 2 * y**2 / v)
    upper = (v + wm**2) / (2 * (y + wm)) * stats.chi2.ppf(0.975, 2 * (y + wm) ** 2
                                                           / (v + wm**2))
    pop = population(two_group_population(1000, 2000))
    rows = [(2020, "01", 1, 30)] * 2 + [(2020, "01", 2, 70)] * 5
    out = inc.standardised_rates(cases(rows), pop, standard=two_group_standard,
                                 age_breaks=[0, 50])
    row = out.row(0, named=True)
    assert row["estimate"] == pytest.approx(230.0)
    assert row["crude_rate"] == pytest.approx(7 / 3000 * 1e5)
    assert row["lower"] == pytest.approx(lower * 1e5, rel=1e-9)
    assert row["upper"] == pytest.approx(upper * 1e5, rel=1e-9)
    assert "Fay & Feuer" in row["method"] and row["standard"] == "std"
    # The gamma quantiles spelled out with the shape/scale of epitools::ageadjust.direct.
    assert row["lower"] == pytest.approx(
        stats.gamma.ppf(0.025, y**2 / v, scale=v / y) * 1e5, rel=1e-9)


def test_standardised_rate_tiwari_upper_limit(two_group_standard):
    # Tiwari, Clegg & Zou (2006): y* = y + mean(w_i/n_i) = 2.3e-3 + 3.5e-4,
    # v* = v + mean((w_i/n_i)^2) = 7.7e-7 + (1.6e-7 + 0.9e-7)/2 = 8.95e-7.
    ys, vs = 2.3e-3 + 3.5e-4, 7.7e-7 + 1.25e-7
    pop = population(two_group_population(1000, 2000))
    rows = [(2020, "01", 1, 30)] * 2 + [(2020, "01", 2, 70)] * 5
    out = inc.standardised_rates(cases(rows), pop, standard=two_group_standard,
                                 age_breaks=[0, 50], tiwari=True)
    row = out.row(0, named=True)
    assert row["upper"] == pytest.approx(stats.gamma.ppf(0.975, ys**2 / vs, scale=vs / ys)
                                         * 1e5, rel=1e-9)
    assert row["lower"] == pytest.approx(stats.gamma.ppf(0.025, 2.3e-3**2 / 7.7e-7,
                                                         scale=7.7e-7 / 2.3e-3) * 1e5)
    assert "Tiwari" in row["method"]


def test_standardised_rate_zero_cases_has_finite_upper(two_group_standard):
    # y = 0: lower 0; upper = Gamma(shape 1, scale wM) quantile = -wM ln(0.025),
    # wM = max(0.4/1000, 0.6/2000) = 4e-4.
    pop = population(two_group_population(1000, 2000))
    out = inc.standardised_rates(cases([(2020, "01", 1, 30)]), pop, ["sex"],
                                 standard=two_group_standard, age_breaks=[0, 50])
    women = out.filter(pl.col("sex") == 2).row(0, named=True)
    assert (women["n"], women["estimate"], women["lower"]) == (0, 0.0, 0.0)
    assert women["upper"] == pytest.approx(-4e-4 * 2 * math.log(0.025) * 1e5, rel=1e-9)


def test_equal_age_specific_rates_give_that_rate_under_any_standard():
    # Each of the 18 groups has 10 000 py (ages 0-84: 1 000 per age and sex; 85+: all at
    # age 85) and one case: 10 per 100 000 everywhere, so every standard gives ASR 10.
    ages = [1000.0] * 85 + [5000.0] + [0.0] * 15
    pop = population({(2020, "01", s): ages for s in (1, 2)})
    rows = [(2020, "01", 1, a) for a in range(0, 90, 5)]
    for std in available():
        out = inc.standardised_rates(cases(rows), pop, standard=std)
        assert out.get_column("estimate")[0] == pytest.approx(10.0), std
        assert out.get_column("n")[0] == 18


# --- standard populations ------------------------------------------------------------------

@pytest.mark.parametrize(("sid", "total", "first", "last"), [
    ("esp2013", 100_000, 5000, 2500),    # Eurostat 2013; 85+ = 1 500 + 800 + 200
    ("world1960", 100_000, 12000, 500),  # Segi 1960 / Doll et al. 1966
    ("who2000", 100_035, 8860, 635),     # Ahmad et al. 2001: 8.86 %; 0.44+0.15+0.04+0.005 %
])
def test_builtin_standard_weights_sum_to_documented_total(sid, total, first, last):
    std = load_standard(sid)
    weights = std.weights.get_column("weight").to_list()
    assert sum(weights) == total
    assert (len(weights), weights[0], weights[-1]) == (18, first, last)
    assert std.weights.get_column("age_group")[-1] == "85+"
    assert std.source


def test_nordic_standard_is_refused_with_its_reason():
    with pytest.raises(UserError, match="Nordic standard population 2000"):
        load_standard("nordic")


def test_missing_standard_file_is_named(tmp_path):
    with pytest.raises(UserError, match="std.csv: standard population file not found"):
        load_standard(tmp_path / "std.csv")


def test_reweight_to_adult_groups_splits_a_standard_group_evenly():
    # ESP 2013: 18-39 = 2/5 x 5 500 (ages 18-19 of 15-19) + 6 000 + 6 000 + 6 500 + 7 000;
    # 80+ = 2 500 + 2 500.
    w = reweight(load_standard("esp2013"), [18, 40, 60, 80])
    assert w.get_column("age_group").to_list() == ["18-39", "40-59", "60-79", "80+"]
    assert w.get_column("weight").to_list() == pytest.approx([27700, 27500, 20500, 5000])


def test_reweight_cannot_split_the_open_group():
    with pytest.raises(UserError, match="open group 85\\+ cannot be split at age 90"):
        reweight(load_standard("esp2013"), [0, 50, 90])


def test_user_standard_by_age_start(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("age_start,weight\n0,30\n40,50\n70,20\n")
    std = load_standard(path)
    assert std.weights.get_column("age_group").to_list() == ["0-39", "40-69", "70+"]
    assert std.total == 100


def test_user_standard_bad_weight_names_file_row_column_value(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("age_group,weight\n0-49,40\n50+,many\n")
    with pytest.raises(InputError) as exc:
        load_standard(path)
    assert (exc.value.row, exc.value.column, exc.value.value) == (3, "weight", "many")
    assert str(path) in str(exc.value)


def test_user_standard_gap_is_refused(tmp_path: Path):
    path = tmp_path / "gap.csv"
    path.write_text("age_group,weight\n0-39,40\n50+,60\n")
    with pytest.raises(UserError, match="contiguous"):
        load_standard(path)


# --- SIR and rate ratios -------------------------------------------------------------------

def _two_regions():
    # Stockholm (01): 0-49 2 cases / 1 000 py, 50+ 5 / 2 000;
    # Norr (25):      0-49 4 cases / 3 000 py, 50+ 9 / 1 000.
    pop = population({**two_group_population(1000, 2000, "01"),
                      **two_group_population(3000, 1000, "25")})
    rows = ([(2020, "01", 1, 30)] * 2 + [(2020, "01", 2, 70)] * 5
            + [(2020, "25", 1, 30)] * 4 + [(2020, "25", 2, 70)] * 9)
    return cases(rows), pop


def test_sir_hand_computed():
    # National rates: 0-49 6/4 000, 50+ 14/3 000. Stockholm: E = 1.5 + 9.3333 = 10.8333,
    # O = 7, SIR = 0.646154; exact limits for 7: 2.8144, 14.4227 (Garwood; tabulated as
    # 2.81 and 14.42 in Breslow & Day 1987, vol. II, appendix II), divided by E.
    c, pop = _two_regions()
    out = inc.sir(c, pop, "region", reference_strata=["age_group"], age_breaks=[0, 50])
    sth = out.filter(pl.col("region") == "stockholm_gotland").row(0, named=True)
    e = 6 / 4000 * 1000 + 14 / 3000 * 2000
    assert sth["n"] == 7 and sth["expected"] == pytest.approx(e)
    assert sth["estimate"] == pytest.approx(7 / e)
    assert sth["lower"] == pytest.approx(2.8144 / e, rel=2e-5)
    assert sth["upper"] == pytest.approx(14.4227 / e, rel=2e-5)
    # Exact two-sided p: 2 P(X <= 7 | mean E).
    assert sth["p_value"] == pytest.approx(2 * stats.poisson.cdf(7, e))
    # Observed and expected both add up to the national total of 20 cases.
    assert out.get_column("expected").sum() == pytest.approx(20.0)


def test_sir_without_reference_cases_is_empty_not_infinite():
    c, pop = _two_regions()
    out = inc.sir(c.filter(pl.col("sex") == 3), pop, "region", years=(2020, 2020))
    assert out.get_column("n").to_list() == [0, 0]
    assert out.get_column("estimate").is_null().all()


def test_regional_comparison_refuses_a_second_unit_in_the_grouping():
    # Within each region the reference would be the region itself (every SIR 1).
    c, pop = _two_regions()
    with pytest.raises(UserError, match="one unit at a time"):
        inc.sir(c, pop, "county", ["region"], years=(2020, 2020))


def test_rate_ratio_hand_computed(two_group_standard):
    # Weights 0.4/0.6. Stockholm R = 0.4*2/1000 + 0.6*5/2000 = 2.3e-3,
    # nation R = 0.4*6/4000 + 0.6*14/3000 = 3.4e-3, RR = 0.676471.
    # V_u = 0.16*2/1e6 + 0.36*5/4e6 = 7.7e-7; V_N = 0.16*6/16e6 + 0.36*14/9e6 = 6.2e-7;
    # C = 0.16*2/(1000*4000) + 0.36*5/(2000*3000) = 3.8e-7.
    r_u, r_n, v_u, v_n, cov = 2.3e-3, 3.4e-3, 7.7e-7, 6.2e-7, 3.8e-7
    se = math.sqrt(v_u / r_u**2 + v_n / r_n**2 - 2 * cov / (r_u * r_n))
    c, pop = _two_regions()
    out = inc.rate_ratios(c, pop, "region", standard=two_group_standard, age_breaks=[0, 50])
    sth = out.filter(pl.col("region") == "stockholm_gotland").row(0, named=True)
    assert sth["rate"] == pytest.approx(230.0) and sth["reference_rate"] == pytest.approx(340)
    assert sth["estimate"] == pytest.approx(r_u / r_n)
    assert sth["lower"] == pytest.approx(r_u / r_n * math.exp(-1.959964 * se), rel=1e-6)
    assert sth["upper"] == pytest.approx(r_u / r_n * math.exp(1.959964 * se), rel=1e-6)


def test_rate_ratio_of_a_unit_without_cases(two_group_standard):
    c, pop = _two_regions()
    out = inc.rate_ratios(c.filter(pl.col("county") == "25"), pop, "region",
                          standard=two_group_standard, age_breaks=[0, 50])
    sth = out.filter(pl.col("region") == "stockholm_gotland").row(0, named=True)
    assert (sth["estimate"], sth["lower"], sth["upper"]) == (0.0, 0.0, None)


# --- trends ----------------------------------------------------------------------------------

def _trend(rate_factor: float = 1.03, years: int = 10):
    # 100 cases (all men) every year, men's person-years shrinking by the factor: their
    # rate grows by exactly 3 % a year. One age (0, open) holds all person-years.
    pop = population({(2010 + t, "01", s): [1e6 / rate_factor**t if s == 1 else 1e6]
                      for t in range(years) for s in (1, 2)})
    return cases([(2010 + t, "01", 1, 50) for t in range(years) for _ in range(100)]), pop


def test_apc_of_an_exact_three_percent_increase():
    # Perfect fit: b = ln 1.03. Fisher information of b: sum_t mu_t (t - mean t)^2 =
    # 100 x 82.5 = 8 250 (t = 0..9), so se(b) = 1/sqrt(8 250).
    c, pop = _trend()
    out = trend.annual_percent_change(c, pop, ["sex"], age_breaks=[0])
    row = out.filter(pl.col("sex") == 1).row(0, named=True)
    se = 1 / math.sqrt(8250)
    assert row["estimate"] == pytest.approx(3.0, abs=1e-8)
    assert row["lower"] == pytest.approx(100 * (1.03 * math.exp(-1.959964 * se) - 1), rel=1e-5)
    assert row["upper"] == pytest.approx(100 * (1.03 * math.exp(1.959964 * se) - 1), rel=1e-5)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(math.log(1.03) / se), rel=1e-4)
    assert (row["n"], row["first_year"], row["last_year"]) == (1000, 2010, 2019)


def test_apc_without_cases_has_no_estimate():
    c, pop = _trend()
    out = trend.annual_percent_change(c, pop, ["sex"], age_breaks=[0], adjust=["age_group"])
    women = out.filter(pl.col("sex") == 2).row(0, named=True)
    assert women["n"] == 0 and women["estimate"] is None
    assert out.filter(pl.col("sex") == 1).get_column("estimate")[0] == pytest.approx(3.0)


def _three_years(counts: list[int]):
    pop = population({(2020 + t, "01", s): [1e5] for t in range(3) for s in (1, 2)})
    return cases([(2020 + t, "01", 1, 50) for t, k in enumerate(counts) for _ in range(k)]), pop


@pytest.mark.parametrize("counts", [[3, 0, 0], [0, 0, 2]])
def test_apc_with_cases_at_one_end_of_the_range_has_no_estimate(counts):
    # All cases in the first (last) year: the likelihood rises as the slope goes to -inf
    # (+inf), so there is no finite maximum likelihood estimate.
    c, pop = _three_years(counts)
    row = trend.annual_percent_change(c, pop, years=(2020, 2022),
                                   age_breaks=[0]).row(0, named=True)
    assert row["estimate"] is None and row["lower"] is None and row["p_value"] is None
    assert row["reason"] == "all cases in the first or all in the last year: no finite trend"


def test_apc_with_cases_in_the_middle_year_only_is_flat():
    # Equal person-years, cases only in the middle year: the score equation
    # sum_t (t - 1) x_t = sum_t (t - 1) mu_t holds at b = 0 (mu_0 = mu_2), so APC = 0.
    c, pop = _three_years([0, 4, 0])
    row = trend.annual_percent_change(c, pop, years=(2020, 2022),
                                   age_breaks=[0]).row(0, named=True)
    assert row["estimate"] == pytest.approx(0.0, abs=1e-6) and row["reason"] is None
    assert row["lower"] < 0 < row["upper"]


# Cases per sex and age group (ages 0-49 "young", 50-99 "old") in 2015, ..., 2022. Person-
# years per single year of age: young 900 - 3t, old 500 + 7t, plus 40 for women (t = year -
# 2015), so a group's person-years are 50 times that.
R_APC_COUNTS = {(1, "young"): [18, 15, 17, 14, 18, 17, 15, 13],
                (1, "old"): [62, 66, 72, 61, 90, 93, 88, 94],
                (2, "young"): [8, 8, 14, 14, 17, 5, 7, 17],
                (2, "old"): [70, 56, 51, 65, 65, 68, 53, 68]}

# R 4.2.2 (Debian bookworm), with the counts above in apc.csv (columns year, sex,
# age_group, n, py; one row per year, sex and age group):
#   d <- read.csv("apc.csv")
#   d$year <- d$year - 2015
#   d$stratum <- interaction(d$age_group, d$sex)
#   apc <- function(formula, data) {
#     ctrl <- glm.control(epsilon = 1e-14, maxit = 100)
#     fit <- glm(formula, family = poisson, data = data, offset = log(py), control = ctrl)
#     # vcov comes from the weights of the last-but-one iteration: refit from the estimate
#     fit <- glm(formula, family = poisson, data = data, offset = log(py), control = ctrl,
#                start = coef(fit))
#     b <- coef(fit)[["year"]]; se <- sqrt(vcov(fit)["year", "year"]); z <- qnorm(0.975)
#     format(c(b, se, 100 * expm1(c(b, b - z * se, b + z * se)), 2 * pnorm(-abs(b / se))),
#            digits = 17)
#   }
#   apc(n ~ year + age_group, subset(d, sex == 1))
#   apc(n ~ year + age_group, subset(d, sex == 2))
#   apc(n ~ year + stratum, d)
# The se equals sqrt of the year element of (X' diag(mu) X)^-1 at the estimate to 6e-16.
# R's glm with its default control (epsilon = 1e-8) gives se(b) off by up to 3.8e-7 here.
# b, se(b), APC, lower, upper, p
R_GLM = {
    "men": (0.039583908817763219, 0.015972845598261426, 4.037779209313343109,
            0.831206165673090802, 7.346325749802440797, 0.013204703790876413),
    "women": (-0.00089951078726306383, 0.01803473126400223156, -0.08991063487095658779,
              -3.55978801118831489347, 3.50481143805569317351, 0.96022073740285118770),
    "adjusted for age group x sex": (
        0.021825309680454957, 0.011949347226624107, 2.206522397392534973,
        -0.159370921705060481, 4.628479577956397861, 0.067777160449003421),
}


def test_apc_equals_r_glm_to_1e10():
    pop = population({(2015 + t, "01", s): [900 - 3 * t + 40 * (s == 2)] * 50
                      + [500 + 7 * t + 40 * (s == 2)] * 50 for t in range(8) for s in (1, 2)})
    c = cases([(2015 + t, "01", s, 30 if group == "young" else 70)
               for (s, group), counts in R_APC_COUNTS.items()
               for t, k in enumerate(counts) for _ in range(k)])
    by_sex = trend.annual_percent_change(c, pop, ["sex"], age_breaks=[0, 50],
                                         adjust=["age_group"])
    both = trend.annual_percent_change(c, pop, age_breaks=[0, 50], adjust=["age_group", "sex"])
    z = stats.norm.ppf(0.975)
    for name, row in (("men", by_sex.row(0, named=True)), ("women", by_sex.row(1, named=True)),
                      ("adjusted for age group x sex", both.row(0, named=True))):
        b = math.log1p(row["estimate"] / 100)
        se = (math.log1p(row["upper"] / 100) - math.log1p(row["lower"] / 100)) / (2 * z)
        ours = (b, se, row["estimate"], row["lower"], row["upper"], row["p_value"])
        for label, value, ref in zip(("b", "se", "apc", "lower", "upper", "p"), ours,
                                     R_GLM[name], strict=True):
            assert abs(value / ref - 1) < 1e-10, (name, label)


# --- bad input -----------------------------------------------------------------------------

def test_zero_person_years_where_a_case_is_names_year_county_sex_age():
    ages = [10.0] * 100
    ages[70] = 0.0
    pop = population({(2020, "01", 1): ages, (2020, "01", 2): [10.0] * 100})
    with pytest.raises(UserError, match="year 2020, county 01, sex 1, age 70"):
        inc.crude_rates(cases([(2020, "01", 1, 70)]), pop)


def test_missing_population_row_is_named():
    pop = population(two_group_population(1000, 1000)).filter(
        ~((pl.col("sex") == 2) & (pl.col("age") == 3)))
    with pytest.raises(UserError, match="no row .*year 2020, county 01, sex 2, age 3"):
        inc.crude_rates(cases([(2020, "01", 1, 70)]), pop)


def test_zero_person_years_in_an_age_group_is_refused_for_standardised_rates():
    ages = [0.0] * 50 + [20.0] * 50
    pop = population({(2020, "01", s): ages for s in (1, 2)})
    with pytest.raises(UserError, match="zero person-years .*age_group 0-49"):
        inc.standardised_rates(cases([(2020, "01", 1, 70)]), pop, age_breaks=[0, 50])


def test_cases_outside_population_years_or_counties():
    pop = population(two_group_population(1000, 1000))
    with pytest.raises(UserError, match="no person-years for the year\\(s\\) 2021"):
        inc.crude_rates(cases([(2020, "01", 1, 70), (2021, "01", 1, 70)]), pop)
    with pytest.raises(UserError, match="counties the population does not cover: county 25"):
        inc.crude_rates(cases([(2020, "25", 1, 70)]), pop)


def test_unknown_sex_counts_in_totals_but_not_by_sex():
    pop = population(two_group_population(1000, 1000))
    c = cases([(2020, "01", 1, 70), (2020, "01", 9, 70)])
    assert inc.crude_rates(c, pop).get_column("n").to_list() == [2]
    with pytest.raises(UserError, match="unknown sex") as exc:
        inc.crude_rates(c, pop, ["sex"])
    assert "c1" in str(exc.value) and "19500101" not in str(exc.value)  # never person_id


def test_case_without_age_is_refused_not_dropped():
    pop = population(two_group_population(1000, 1000))
    c = cases([(2020, "01", 1, 70), (2020, "01", 1, 70)]).with_columns(
        pl.when(pl.col("case_id") == "c1").then(None).otherwise(pl.col("age")).alias("age"))
    with pytest.raises(UserError, match="1 case\\(s\\) lack the age .*case_id c1"):
        inc.crude_rates(c, pop)


def test_unknown_grouping_key():
    pop = population(two_group_population(1000, 1000))
    with pytest.raises(UserError, match="cannot group by hospital"):
        inc.crude_rates(cases([(2020, "01", 1, 70)]), pop, ["hospital"])


def test_periods_and_adult_age_groups():
    # Years 2016-2020 in 2-year periods: 2016-2017, 2018-2019, 2020. Cases under 18 are
    # outside an 18+ analysis: person-years count ages 18-99 only (82 ages x 10 x 2 sexes).
    pop = population({(y, "01", s): [10.0] * 100 for y in range(2016, 2021) for s in (1, 2)})
    c = cases([(2016, "01", 1, 10), (2017, "01", 1, 40), (2020, "01", 2, 90)])
    out = inc.crude_rates(c, pop, ["period"], period_length=2, age_breaks=[18, 50])
    assert out.get_column("period").to_list() == ["2016-2017", "2018-2019", "2020"]
    assert out.get_column("n").to_list() == [1, 0, 1]
    assert out.get_column("person_years").to_list() == [3280.0, 3280.0, 1640.0]


# --- command line ----------------------------------------------------------------------------

def test_cli_writes_standardised_rates(tmp_path: Path, monkeypatch, two_group_standard):
    c, pop = _two_regions()
    nothing_rejected = pl.DataFrame(schema={"file": pl.String, "read": pl.Int64,
                                            "rejected": pl.Int64})
    loaded = types.SimpleNamespace(require=lambda name: {"cases": c, "population": pop}[name],
                                   summary=lambda: nothing_rejected)
    fake = types.ModuleType("analysis.data.ingest")
    fake.load_data = lambda data, subregistries, **settings: loaded
    monkeypatch.setitem(sys.modules, "analysis.data.ingest", fake)
    std = tmp_path / "std.csv"
    std.write_text("age_group,weight\n0-49,40\n50+,60\n")
    out = tmp_path / "rates.csv"
    result = CliRunner().invoke(app, ["incidence", "--by", "region", "--standard", str(std),
                                      "--age-groups", "0,50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(out)
    sth = frame.filter(pl.col("region") == "stockholm_gotland").row(0, named=True)
    assert sth["estimate"] == pytest.approx(230.0) and sth["n"] == 7
    result = CliRunner().invoke(app, ["incidence", "--sir", "--by", "region",
                                      "--age-groups", "0,50", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "norr" in result.output and "expected" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--sir", "--tiwari"], "--tiwari applies to age-standardised rates only"),
    (["--adjust", "sex"], "--adjust applies to --apc only"),
    (["--apc", "--standard", "world1960"], "--standard applies to age-standardised rates"),
])
def test_cli_refuses_an_option_the_analysis_would_ignore(args, message):
    # Refused before any data is read (bcr's entry point turns a UserError into one line).
    result = CliRunner().invoke(app, ["incidence", *args])
    assert isinstance(result.exception, UserError) and message in str(result.exception)


def test_standardised_rate_from_a_finer_aggregate_sums_counts_first():
    # Two sexes and one (open) age group, so the standardised rate is the crude rate of the
    # total: (3 + 1) / (1000 + 3000) per 1000 = 1, not the sum of the two sexes' rates.
    from analysis.stats.incidence import standardised_rates_from
    from analysis.stats.standard_populations import load_standard
    agg = pl.DataFrame({"sex": [1, 2], "age_group": ["0+", "0+"], "age_start": [0, 0],
                        "n": [3, 1], "person_years": [1000.0, 3000.0]})
    out = standardised_rates_from(agg, [], load_standard("esp2013"), per=1000)
    assert out.get_column("estimate").item() == pytest.approx(1.0)
