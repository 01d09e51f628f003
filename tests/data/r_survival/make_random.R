# 300 small random data sets (3-25 rows, times 1..12: heavy ties, S = 0.5 plateaus, curves that
# reach 0 or stop above 0.5, both CI transforms) with R's Kaplan-Meier quantities, and 150 with
# two or three groups (and two strata) with survdiff and coxph (Efron). Compared by
# tests/unit/stats/test_survival.py. Regenerate from the repository root:
#   Rscript tests/data/r_survival/make_random.R
suppressPackageStartupMessages({library(survival); library(jsonlite)})
set.seed(42)
num <- function(x) if (length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)
km <- list()
for (i in 1:300) {
  n <- sample(3:25, 1)
  t <- sample(1:12, n, replace = TRUE)
  e <- rbinom(n, 1, runif(1, 0.2, 0.95))
  ct <- if (i %% 2 == 0) "log" else "log-log"
  f <- survfit(Surv(t, e) ~ 1, conf.type = ct)
  q <- quantile(f, 0.5, conf.int = TRUE)
  s <- summary(f, times = c(0, 2.5, 6, 13), extend = TRUE)
  m <- survival:::survmean(f, rmean = 7.5)$matrix
  km[[i]] <- list(time = t, event = e, conf_type = ct,
                  median = c(num(q$quantile), num(q$lower), num(q$upper)),
                  at = c(0, 2.5, 6, 13), surv = s$surv, lower = s$lower, upper = s$upper,
                  tau = 7.5, rmst = c(m[["rmean"]], m[["se(rmean)"]]))
}
tests <- list()
for (i in 1:150) {
  n <- sample(20:80, 1)
  k <- if (i %% 3 == 0) 3 else 2
  g <- sample(c("a", "b", "c")[1:k], n, replace = TRUE)
  s <- sample(c("s1", "s2"), n, replace = TRUE)
  t <- sample(1:15, n, replace = TRUE)
  e <- rbinom(n, 1, 0.7)
  if (any(tapply(e, factor(g, levels = c("a", "b", "c")[1:k]), sum) == 0) || length(unique(g)) < k) next
  gf <- factor(g, levels = c("a", "b", "c")[1:k])
  lr <- survdiff(Surv(t, e) ~ gf)
  slr <- survdiff(Surv(t, e) ~ gf + strata(s))
  cx <- coxph(Surv(t, e) ~ gf, ties = "efron")
  scx <- coxph(Surv(t, e) ~ gf + strata(s), ties = "efron")
  tests[[length(tests) + 1]] <- list(time = t, event = e, group = g, strata = s,
    chisq = lr$chisq, strat_chisq = slr$chisq, hr = unname(exp(coef(cx))), strat_hr = unname(exp(coef(scx))),
    se = unname(sqrt(diag(vcov(cx)))))
}
writeLines(toJSON(list(source = "tests/data/r_survival/make_random.R", survival_version = as.character(packageVersion("survival")),
                       km = km, tests = tests), digits = NA, na = "null", auto_unbox = TRUE),
           "tests/data/r_survival/random.json")
