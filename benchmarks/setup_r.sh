#!/usr/bin/env bash
# Install R, rpact and survival from Debian when they are missing (the peer for
# benchmarks/bench_simulate.py and the generator of tests/data/rpact_*.json).
set -euo pipefail
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !requireNamespace("rpact", quietly = TRUE))' >/dev/null 2>&1; then
  echo "R and rpact already installed: $(Rscript -e 'cat(R.version.string, "| rpact", as.character(packageVersion("rpact")))')"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq r-base-core r-cran-rpact r-cran-survival r-cran-jsonlite
Rscript -e 'cat(R.version.string, "| rpact", as.character(packageVersion("rpact")), "\n")'
