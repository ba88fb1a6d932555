# Five-year Pohar Perme net survival with relsurv::rs.surv for the cohorts written by
# bench/compare_relsurv.py (run that script; it calls this one).
#
# Usage: Rscript bench/compare_relsurv.R DIR
# Reads DIR/lifetable.csv (year, sex, age, mortality_rate: hazard per year) and
# DIR/cohorts.csv (cohort, sex, age_days, year (diagnosis date), time_days, status) and
# writes DIR/relsurv.csv with the estimates at 5 x 365.25 days of rs.surv's defaults
# (estimate: type = "kaplan-meier", a product over the deaths; the population part is
# evaluated at the observed times only), of type = "fleming-harrington" (estimate_fh: exp
# of the cumulative excess hazard, the form of bcr's estimator), of the default with
# add.times = every day (estimate_daily) and, where popEpi is installed, of
# popEpi::survtab (estimate_popepi).
#
# The rate table is relsurv::transrate's, with hazards per day of mortality_rate / 365.25
# and ages cut at multiples of 365.25 days, as bcr counts a year of age; calendar years
# change on 1 January.
suppressPackageStartupMessages(library(relsurv))

dir <- commandArgs(trailingOnly = TRUE)[1]
lt <- read.csv(file.path(dir, "lifetable.csv"))
ages <- sort(unique(lt$age))
years <- sort(unique(lt$year))
stopifnot(all(diff(ages) == 1), all(diff(years) == 1), nrow(lt) == 2 * length(ages) * length(years))
rates <- function(s) {
  sub <- lt[lt$sex == s, ]
  m <- matrix(NA_real_, length(ages), length(years))
  m[cbind(match(sub$age, ages), match(sub$year, years))] <- sub$mortality_rate
  # transrate takes one-year survival probabilities p and uses -log(p) / 365.241 per day
  exp(-m * 365.241 / 365.25)
}
rt <- transrate(rates(1), rates(2), yearlim = range(years), int.length = 1)
attr(rt, "cutpoints")[[1]] <- (ages - ages[1]) * 365.25
stopifnot(ages[1] == 0)

d <- read.csv(file.path(dir, "cohorts.csv"))
d$year <- as.Date(d$year)
horizon <- 5 * 365.25
at_horizon <- function(x, type, ...) {
  fit <- rs.surv(Surv(time_days, status) ~ 1, data = x, ratetable = rt, type = type,
                 method = "pohar-perme", rmap = list(age = age_days, sex = sex, year = year),
                 ...)
  summary(fit, times = horizon)$surv
}
out <- do.call(rbind, lapply(split(d, d$cohort), function(x) {
  data.frame(cohort = x$cohort[1], estimate = at_horizon(x, "kaplan-meier"),
             estimate_fh = at_horizon(x, "fleming-harrington"),
             estimate_daily = at_horizon(x, "kaplan-meier", add.times = 1:ceiling(horizon)))
}))
versions <- sprintf("R %s, survival %s, relsurv %s", getRversion(),
                    packageVersion("survival"), packageVersion("relsurv"))

# popEpi::survtab (hazard method, monthly intervals, Pohar Perme), whose method bcr
# follows, where popEpi is installed: the same follow-up in years, age in years
# (days / 365.25) and calendar time as bcr's decimal year.
if (requireNamespace("popEpi", quietly = TRUE)) {
  suppressPackageStartupMessages({library(popEpi); library(Epi)})
  pophaz <- data.frame(sex = lt$sex, CAL = lt$year, AGE = lt$age, haz = lt$mortality_rate)
  y <- as.integer(format(d$year, "%Y"))
  leap <- (y %% 4 == 0 & y %% 100 != 0) | y %% 400 == 0
  d$CAL0 <- y + as.POSIXlt(d$year)$yday / ifelse(leap, 366, 365)
  d$AGE0 <- d$age_days / 365.25
  d$FUT1 <- d$time_days / 365.25
  popepi <- sapply(split(d, d$cohort), function(x) {
    lx <- Lexis(entry = list(FUT = 0, AGE = AGE0, CAL = CAL0), exit = list(FUT = FUT1),
                entry.status = 0, exit.status = status, data = x, merge = TRUE)
    st <- as.data.frame(survtab(FUT ~ 1, data = lx, breaks = list(FUT = seq(0, 5, 1 / 12)),
                                pophaz = pophaz, surv.type = "surv.rel",
                                relsurv.method = "pp"))
    st$r.pp[nrow(st)]
  })
  out$estimate_popepi <- popepi[as.character(out$cohort)]
  versions <- sprintf("%s, popEpi %s, Epi %s", versions, packageVersion("popEpi"),
                      packageVersion("Epi"))
}
write.csv(out, file.path(dir, "relsurv.csv"), row.names = FALSE)
cat(sprintf("%s: %d cohorts\n", versions, nrow(out)))
