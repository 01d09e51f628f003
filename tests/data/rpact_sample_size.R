# Reference sample sizes from rpact::getSampleSizeSurvival (fixed design, kMax = 1).
# Regenerate with:  Rscript tests/data/rpact_sample_size.R > tests/data/rpact_sample_size.json
# Each case stores the exact R call (as text) beside eventsFixed / nFixed.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})

cases <- list(
  list(id = "two_sided_1to1_no_dropout", hazard_ratio = 0.6, alpha = 0.05, sided = 2, power = 0.8,
       median_control_months = 6, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0, dropout_time_months = 12, allocation_ratio = 1, method = "Schoenfeld"),
  list(id = "two_sided_1to1_dropout", hazard_ratio = 0.6, alpha = 0.05, sided = 2, power = 0.8,
       median_control_months = 6, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0.05, dropout_time_months = 12, allocation_ratio = 1, method = "Schoenfeld"),
  list(id = "one_sided_1to1_no_dropout", hazard_ratio = 0.5, alpha = 0.025, sided = 1, power = 0.9,
       median_control_months = 6, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0, dropout_time_months = 12, allocation_ratio = 1, method = "Schoenfeld"),
  list(id = "one_sided_1to1_dropout", hazard_ratio = 0.7, alpha = 0.025, sided = 1, power = 0.8,
       median_control_months = 10, accrual_months = 30, follow_up_months = 18,
       dropout_rate = 0.1, dropout_time_months = 12, allocation_ratio = 1, method = "Schoenfeld"),
  list(id = "two_sided_2to1_no_dropout", hazard_ratio = 0.6, alpha = 0.05, sided = 2, power = 0.8,
       median_control_months = 6, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0, dropout_time_months = 12, allocation_ratio = 2, method = "Schoenfeld"),
  list(id = "two_sided_2to1_dropout", hazard_ratio = 0.57, alpha = 0.2, sided = 2, power = 0.8,
       median_control_months = 28, accrual_months = 36, follow_up_months = 24,
       dropout_rate = 0.05, dropout_time_months = 24, allocation_ratio = 2, method = "Schoenfeld"),
  list(id = "one_sided_2to1_dropout", hazard_ratio = 0.65, alpha = 0.025, sided = 1, power = 0.85,
       median_control_months = 4.3, accrual_months = 48, follow_up_months = 12,
       dropout_rate = 0.08, dropout_time_months = 6, allocation_ratio = 2, method = "Schoenfeld"),
  list(id = "one_sided_1to2_no_dropout", hazard_ratio = 0.6, alpha = 0.025, sided = 1, power = 0.8,
       median_control_months = 2.8, accrual_months = 24, follow_up_months = 6,
       dropout_rate = 0, dropout_time_months = 12, allocation_ratio = 0.5, method = "Schoenfeld"),
  list(id = "two_sided_1to2_dropout", hazard_ratio = 0.75, alpha = 0.05, sided = 2, power = 0.9,
       median_control_months = 12, accrual_months = 36, follow_up_months = 24,
       dropout_rate = 0.1, dropout_time_months = 24, allocation_ratio = 0.5, method = "Schoenfeld"),
  list(id = "one_sided_1to2_dropout", hazard_ratio = 0.5, alpha = 0.05, sided = 1, power = 0.8,
       median_control_months = 3, accrual_months = 18, follow_up_months = 6,
       dropout_rate = 0.15, dropout_time_months = 12, allocation_ratio = 0.5, method = "Schoenfeld"),
  list(id = "freedman_two_sided_1to1", hazard_ratio = 0.6, alpha = 0.05, sided = 2, power = 0.8,
       median_control_months = 6, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0, dropout_time_months = 12, allocation_ratio = 1, method = "Freedman"),
  list(id = "freedman_one_sided_2to1_dropout", hazard_ratio = 0.65, alpha = 0.025, sided = 1, power = 0.8,
       median_control_months = 8, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0.05, dropout_time_months = 12, allocation_ratio = 2, method = "Freedman"),
  list(id = "freedman_two_sided_1to2_dropout", hazard_ratio = 0.7, alpha = 0.05, sided = 2, power = 0.9,
       median_control_months = 10, accrual_months = 30, follow_up_months = 12,
       dropout_rate = 0.1, dropout_time_months = 12, allocation_ratio = 0.5, method = "Freedman"),
  list(id = "harm_direction_hr_above_1", hazard_ratio = 1.5, alpha = 0.025, sided = 1, power = 0.8,
       median_control_months = 12, accrual_months = 24, follow_up_months = 12,
       dropout_rate = 0.05, dropout_time_months = 12, allocation_ratio = 1, method = "Schoenfeld")
)

out <- lapply(cases, function(cs) {
  design_call <- sprintf(
    "getDesignGroupSequential(kMax = 1, alpha = %s, sided = %d, beta = %s)",
    format(cs$alpha, digits = 15), as.integer(cs$sided), format(1 - cs$power, digits = 15))
  ss_call <- sprintf(paste0(
    "getSampleSizeSurvival(design, hazardRatio = %s, median2 = %s, accrualTime = c(0, %s), ",
    "followUpTime = %s, dropoutRate1 = %s, dropoutRate2 = %s, dropoutTime = %s, ",
    "allocationRatioPlanned = %s, typeOfComputation = \"%s\")"),
    format(cs$hazard_ratio, digits = 15), format(cs$median_control_months, digits = 15),
    format(cs$accrual_months, digits = 15), format(cs$follow_up_months, digits = 15),
    format(cs$dropout_rate, digits = 15), format(cs$dropout_rate, digits = 15),
    format(cs$dropout_time_months, digits = 15), format(cs$allocation_ratio, digits = 15),
    cs$method)
  design <- eval(parse(text = design_call))
  res <- eval(parse(text = ss_call))
  c(cs, list(r_call = paste0("design <- ", design_call, "; ", ss_call),
             events = res$eventsFixed, subjects = res$nFixed,
             subjects_experimental = res$nFixed1, subjects_control = res$nFixed2))
})

cat(toJSON(list(
  source = "rpact::getSampleSizeSurvival, generated by tests/data/rpact_sample_size.R",
  rpact_version = as.character(packageVersion("rpact")),
  r_version = R.version.string,
  generated_utc = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
  note = paste("allocation_ratio is allocationRatioPlanned (experimental:control);",
               "dropout_rate is used for both dropoutRate1 and dropoutRate2;",
               "alpha is the total alpha of a design with the given sided."),
  cases = out), auto_unbox = TRUE, digits = NA, pretty = TRUE))
