#!/usr/bin/env bash
# The main job on the embedded default: run STOP-2 (NCT06918951) end to end on SQLite -- a seeded
# synthetic cohort screened, consented, enrolled, randomized, treated, followed to a data cut --
# and write its trial report. Ends by printing where report.html is and how to look at the trial.
# Extra arguments go to `oligotrial demo` (e.g. --trial OPPRESS --patients 400 --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >&2
out="${OLIGOTRIAL_DEMO_DIR:-oligotrial-demo}"
if [ -e "$out/trial.db" ] && [ "$#" -eq 0 ]; then
  # a demo never writes into a database that holds a trial: start from a fresh directory
  out="$out-$(date +%Y%m%d-%H%M%S)"
fi
.venv/bin/oligotrial demo --trial STOP-2 --out "$out" "$@"
echo
echo "Look at the trial afterwards:"
echo "  open $out/report.html                      (the report: CONSORT, Kaplan-Meier, response, AEs, QoL, cost-effectiveness)"
echo "  set -a; . $out/oligotrial.env; set +a       (then, with those settings:)"
echo "  .venv/bin/oligotrial serve                      (the API; demo accounts in $out/demo-users.txt)"
echo "  .venv/bin/oligotrial report --trial STOP-2 --data-cut 2026-11-15 --out $out/again"
echo "  .venv/bin/oligotrial export adtte --trial STOP-2 --out adtte.csv"
echo "  .venv/bin/oligotrial audit verify"
