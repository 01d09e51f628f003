# Reference values for oligotrial.stats.qol.qol_change_from_baseline (tests/unit/stats/test_qol.py).
# Run: Rscript tests/data/qol/qol_change.R tests/data/qol/qol_change.csv > tests/data/qol/qol_change.json
# Base R only: mean, sd and t.test(x)$conf.int (one-sample t interval, 95 %).
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
num <- function(x) if (is.null(x) || is.na(x)) "null" else formatC(x, digits = 15, format = "g")
summ <- function(x) {
  x <- x[!is.na(x)]; n <- length(x)
  if (n == 0) return(list(n = 0, mean = NA, sd = NA, lo = NA, hi = NA))
  if (n == 1) return(list(n = 1, mean = mean(x), sd = NA, lo = NA, hi = NA))
  ci <- t.test(x)$conf.int
  list(n = n, mean = mean(x), sd = sd(x), lo = ci[1], hi = ci[2])
}
rows <- c()
for (arm in unique(d$arm)) for (visit in unique(d$visit)) {
  s <- d[d$arm == arm & d$visit == visit, ]
  if (nrow(s) == 0) next
  a <- summ(s$score)
  row <- sprintf('{"arm": "%s", "visit": "%s", "n": %d, "mean": %s, "sd": %s, "lower": %s, "upper": %s',
                 arm, visit, a$n, num(a$mean), num(a$sd), num(a$lo), num(a$hi))
  if (visit != "baseline") {
    b <- d[d$arm == arm & d$visit == "baseline", c("participant", "score")]
    m <- merge(s[, c("participant", "score")], b, by = "participant", suffixes = c("", ".base"))
    ch <- summ(m$score - m$score.base)
    row <- paste0(row, sprintf(', "n_change": %d, "mean_change": %s, "sd_change": %s, "change_lower": %s, "change_upper": %s',
                               ch$n, num(ch$mean), num(ch$sd), num(ch$lo), num(ch$hi)))
  }
  rows <- c(rows, paste0("    ", row, "}"))
}
cat("{\n", sprintf('  "r_version": "%s",\n', R.version.string),
    '  "r_call": "t.test(x)$conf.int per arm and visit, x = scores or score - baseline score",\n',
    '  "rows": [\n', paste(rows, collapse = ",\n"), "\n  ]\n}\n", sep = "")
