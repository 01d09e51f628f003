# Reference values for `oligotrial analysis survival` (format oligotrial.survival-analysis/1),
# computed by R's survival package with its defaults. Writes the input data sets as CSV
# (except waltons.csv, which is lifelines' MIT-licensed file, read from here) and reference.json.
#
# Regenerate (from the repository root):
#   Rscript tests/data/r_survival/make_reference.R
# R 4.2.2, survival 3.5-3, jsonlite. See README.md for provenance.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
here <- "tests/data/r_survival"
if (!dir.exists(here)) stop("run from the repository root")

num <- function(x) if (length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)
tol <- sqrt(.Machine$double.eps)

# --- the input data sets ---------------------------------------------------------------------
lung <- survival::lung
lung_months <- data.frame(months = ceiling(lung$time / 30.4375), dead = lung$status - 1,
                          sex = ifelse(lung$sex == 1, "male", "female"))
ld <- lung[!is.na(lung$ph.ecog), ]
lung_days <- data.frame(days = ld$time, dead = ld$status - 1,
                        sex = ifelse(ld$sex == 1, "male", "female"),
                        ecog = paste0("ecog", ld$ph.ecog))
vet <- survival::veteran
veteran <- data.frame(days = vet$time, status = vet$status,
                      trt = ifelse(vet$trt == 1, "standard", "test"),
                      celltype = as.character(vet$celltype))
ovarian <- data.frame(futime = survival::ovarian$futime, fustat = survival::ovarian$fustat,
                      rx = paste0("rx", survival::ovarian$rx), cohort = "all")
flat_half <- data.frame(time = c(1, 2, 3, 4, 1, 2, 3, 5), event = c(1, 1, 0, 0, 1, 1, 0, 1),
                        arm = rep(c("A", "B"), each = 4))
spec_example <- data.frame(
  months = c(1, 2, 3, 4, 5, 5, 6, 8, 9, 10, 2, 4, 5, 6, 7, 9, 10, 11, 12, 12),
  event = c(1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0),
  arm = rep(c("soc", "sbrt"), each = 10))
edge_cases <- data.frame(
  time = c(0, 0, 1, 2, 3, 3, 5, 1, 2, 3, 4, 1, 2, 2, 4, 6, 7),
  event = c(1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1),
  arm = c(rep("a", 7), rep("b", 4), rep("c", 6)))
waltons <- read.csv(file.path(here, "waltons.csv"), stringsAsFactors = FALSE)

write_data <- function(d, name) write.csv(d, file.path(here, paste0(name, ".csv")), row.names = FALSE)
write_data(lung_months, "lung_months"); write_data(lung_days, "lung_days")
write_data(veteran, "veteran"); write_data(ovarian, "ovarian")
write_data(flat_half, "flat_half"); write_data(spec_example, "spec_example")
write_data(edge_cases, "edge_cases")

# --- one document -----------------------------------------------------------------------------
analyse <- function(d, time, event, group, strata = NULL, at = numeric(0), tau = NULL,
                    reference = NULL, conf_type = "log") {
  levels_sorted <- sort(unique(as.character(d[[group]])), method = "radix")  # C-locale order
  if (is.null(reference)) reference <- levels_sorted[1]
  lev <- c(reference, setdiff(levels_sorted, reference))
  dd <- data.frame(time = d[[time]], status = d[[event]], g = factor(d[[group]], levels = lev))
  if (!is.null(strata)) dd$s <- factor(d[[strata]])
  groups <- lapply(lev, function(l) {
    sub <- dd[dd$g == l, ]
    fit <- survfit(Surv(time, status) ~ 1, data = sub, conf.type = conf_type)
    q <- quantile(fit, 0.5, conf.int = TRUE)
    sa <- list()
    if (length(at) > 0) {
      s <- summary(fit, times = at, extend = TRUE)
      sa <- lapply(seq_along(s$time), function(i) list(time = s$time[i], estimate = num(s$surv[i]),
                                                        lower = num(s$lower[i]), upper = num(s$upper[i])))
    }
    rm <- NULL
    if (!is.null(tau)) {
      m <- survival:::survmean(fit, rmean = tau)$matrix
      rm <- list(tau = tau, estimate = num(m[["rmean"]]), se = num(m[["se(rmean)"]]))
    }
    list(group = l, n = nrow(sub), events = sum(sub$status),
         median = list(estimate = num(q$quantile), lower = num(q$lower), upper = num(q$upper)),
         survival_at = sa, rmst = rm)
  })
  lr_doc <- function(sd) {
    e <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
    df <- sum(e > 0) - 1
    list(chisq = sd$chisq, df = df, p = pchisq(sd$chisq, df, lower.tail = FALSE))
  }
  logrank <- NULL; strat_lr <- NULL; cox <- NULL
  if (length(lev) > 1) {
    logrank <- lr_doc(survdiff(Surv(time, status) ~ g, data = dd))
    if (!is.null(strata)) strat_lr <- lr_doc(survdiff(Surv(time, status) ~ g + strata(s), data = dd))
    no_events <- any(tapply(dd$status, dd$g, sum) == 0)
    f <- if (is.null(strata)) coxph(Surv(time, status) ~ g, data = dd, ties = "efron")
         else coxph(Surv(time, status) ~ g + strata(s), data = dd, ties = "efron")
    ci <- exp(confint(f)); pz <- summary(f)$coefficients[, "Pr(>|z|)"]
    terms <- lapply(seq_along(lev[-1]), function(i) {
      if (no_events)  # monotone likelihood: R's figure is where its iterations stopped
        list(group = lev[i + 1], hazard_ratio = NA_real_, lower = NA_real_, upper = NA_real_, p = NA_real_)
      else list(group = lev[i + 1], hazard_ratio = exp(unname(coef(f))[i]), lower = ci[i, 1],
                upper = ci[i, 2], p = unname(pz)[i])
    })
    cox <- list(reference = reference, ties = "efron", stratified_by = if (is.null(strata)) NULL else strata,
                terms = terms)
  }
  list(format = "oligotrial.survival-analysis/1", conf_type = conf_type, groups = groups,
       logrank = logrank, stratified_logrank = strat_lr, cox = cox)
}

case <- function(id, file, d, time, event, group, strata = NULL, at = numeric(0), tau = NULL,
                 reference = NULL, conf_type = "log", note = "") {
  list(id = id, file = file, note = note,
       args = list(time = time, event = event, group = group, strata = strata, at = I(at), tau = tau,
                   reference = reference, conf_type = conf_type),
       expected = analyse(d, time, event, group, strata, at, tau, reference, conf_type))
}

# subgroup Cox fits (forest plot): veteran trt within each celltype and each prior level
sub_hr <- function(d, variable) {
  lapply(sort(unique(as.character(d[[variable]])), method = "radix"), function(l) {
    s <- d[d[[variable]] == l, ]
    f <- coxph(Surv(days, status) ~ factor(trt, levels = c("standard", "test")), data = s, ties = "efron")
    list(variable = variable, level = l, n = nrow(s), events = sum(s$status),
         hazard_ratio = exp(unname(coef(f))), lower = exp(confint(f))[1, 1], upper = exp(confint(f))[1, 2],
         p = summary(f)$coefficients[1, "Pr(>|z|)"])
  })
}
veteran$prior <- ifelse(vet$prior == 10, "yes", "no")
fo <- coxph(Surv(days, status) ~ factor(trt, levels = c("standard", "test")), data = veteran, ties = "efron")
subgroups <- c(list(list(variable = "overall", level = "all", n = nrow(veteran), events = sum(veteran$status),
                         hazard_ratio = exp(unname(coef(fo))), lower = exp(confint(fo))[1, 1],
                         upper = exp(confint(fo))[1, 2], p = summary(fo)$coefficients[1, "Pr(>|z|)"])),
               sub_hr(veteran, "celltype"), sub_hr(veteran, "prior"))
write_data(veteran, "veteran")  # with the prior column

cases <- list(
  case("lung_months", "lung_months.csv", lung_months, "months", "dead", "sex", at = c(3, 6, 12, 24, 36),
       tau = 24, reference = "male", note = "heavy ties: lung follow-up in whole months (ceiling of days / 30.4375)"),
  case("lung_days_ecog_loglog", "lung_days.csv", lung_days, "days", "dead", "sex", strata = "ecog",
       at = c(180, 365, 730), tau = 365, conf_type = "log-log",
       note = "log-log CI; stratified log-rank and Cox by ECOG (the row with ECOG missing dropped)"),
  case("veteran_celltype", "veteran.csv", veteran, "days", "status", "celltype",
       at = c(30, 90, 180, 365, 1000), tau = 365, note = "four groups"),
  case("veteran_trt_strata", "veteran.csv", veteran, "days", "status", "trt", strata = "celltype",
       at = c(30, 90, 180), tau = 180, note = "stratified log-rank and stratified Cox"),
  case("ovarian_rx", "ovarian.csv", ovarian, "futime", "fustat", "rx", at = c(365, 730, 1200), tau = 1000,
       note = "median not reached in rx2; upper median CI not reached in both"),
  case("ovarian_single", "ovarian.csv", ovarian, "futime", "fustat", "cohort", at = c(10, 365), tau = 10,
       note = "one group: logrank and cox null; tau before the first time"),
  case("flat_half", "flat_half.csv", flat_half, "time", "event", "arm", at = c(0, 0.5, 2, 3.5, 10), tau = 4.5,
       note = "S = 0.5 exactly on a flat stretch (A: up to the last time; B: up to the next event)"),
  case("spec_example", "spec_example.csv", spec_example, "months", "event", "arm", at = c(4), tau = 9,
       reference = "soc", note = "the shape of the format's example: 10 v 10, reference soc"),
  case("edge_cases", "edge_cases.csv", edge_cases, "time", "event", "arm", at = c(0, 1, 2.5, 6, 100), tau = 5,
       note = "events and censoring at time 0; a group without events (Cox not finite); a curve reaching 0"),
  case("waltons", "waltons.csv", waltons, "T", "E", "group", at = c(10, 30, 50), tau = 60,
       note = "lifelines' waltons data (heavy ties), groups control and miR-137")
)

out <- list(source = "R survival, generated by tests/data/r_survival/make_reference.R",
            r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
            cases = cases, subgroups = list(file = "veteran.csv", rows = subgroups))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
           file.path(here, "reference.json"))
cat("wrote", length(cases), "cases\n")
