# Reference values for oligotrial.stats.binomial (tests/unit/stats/test_binomial.py).
# Run: Rscript tests/data/binomial/binomial_reference.R > tests/data/binomial/binomial_reference.json
# Base R only (stats::binom.test, stats::prop.test, stats::fisher.test).
options(digits = 15)
num <- function(x) formatC(x, digits = 15, format = "g")
cp <- list(c(12, 40), c(0, 20), c(25, 30), c(20, 20), c(1, 1), c(0, 1), c(7, 97), c(48, 97), c(3, 11))
wilson <- function(x, n) suppressWarnings(prop.test(x, n, correct = FALSE)$conf.int)
newcombe <- function(x1, n1, x2, n2) {
  p1 <- x1 / n1; p2 <- x2 / n2; a <- wilson(x1, n1); b <- wilson(x2, n2); d <- p1 - p2
  c(d, d - sqrt((p1 - a[1])^2 + (b[2] - p2)^2), d + sqrt((a[2] - p1)^2 + (p2 - b[1])^2))
}
# Newcombe (1998) Table II examples (a)-(f), plus trial-sized pairs
pairs <- list(c(56, 70, 48, 80), c(9, 10, 3, 10), c(6, 7, 2, 7), c(5, 56, 0, 29), c(0, 10, 0, 20),
              c(10, 10, 0, 20), c(30, 97, 18, 97), c(12, 40, 5, 38))
out <- c("{", sprintf('  "r_version": "%s",', R.version.string),
         '  "clopper_pearson": [')
rows <- sapply(cp, function(v) { ci <- binom.test(v[1], v[2])$conf.int
  sprintf('    {"x": %d, "n": %d, "lower": %s, "upper": %s, "r_call": "binom.test(%d, %d)$conf.int"}',
          v[1], v[2], num(ci[1]), num(ci[2]), v[1], v[2]) })
out <- c(out, paste(rows, collapse = ",\n"), "  ],", '  "clopper_pearson_90": [')
rows <- sapply(cp[1:3], function(v) { ci <- binom.test(v[1], v[2], conf.level = 0.9)$conf.int
  sprintf('    {"x": %d, "n": %d, "lower": %s, "upper": %s}', v[1], v[2], num(ci[1]), num(ci[2])) })
out <- c(out, paste(rows, collapse = ",\n"), "  ],", '  "wilson": [')
rows <- sapply(cp, function(v) { ci <- wilson(v[1], v[2])
  sprintf('    {"x": %d, "n": %d, "lower": %s, "upper": %s, "r_call": "prop.test(%d, %d, correct = FALSE)$conf.int"}',
          v[1], v[2], num(ci[1]), num(ci[2]), v[1], v[2]) })
out <- c(out, paste(rows, collapse = ",\n"), "  ],", '  "two_arm": [')
rows <- sapply(pairs, function(v) { nc <- newcombe(v[1], v[2], v[3], v[4])
  p <- fisher.test(matrix(c(v[1], v[2] - v[1], v[3], v[4] - v[3]), 2))$p.value
  sprintf('    {"x1": %d, "n1": %d, "x2": %d, "n2": %d, "difference": %s, "lower": %s, "upper": %s, "fisher_p": %s}',
          v[1], v[2], v[3], v[4], num(nc[1]), num(nc[2]), num(nc[3]), num(p)) })
out <- c(out, paste(rows, collapse = ",\n"), "  ]", "}")
cat(out, sep = "\n")
