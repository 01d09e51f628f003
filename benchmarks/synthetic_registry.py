"""A seeded synthetic patient registry for the screening benchmark.

Each patient is derived from one of the shipped example records (all five trials, eligible and
not, plus the incomplete edge case) with seeded changes: a new id, birth date, lab values
(+/- 30 %), lesion sizes (+/- 25 %), performance score, dropped attestations and dropped lists
(so that every verdict path, including "unknown", is exercised). ``make_record(seed, i)`` is a
pure function of its arguments, so any worker can build any slice of the registry.

Run ``python benchmarks/synthetic_registry.py --n 1000 --out registry.jsonl`` to write one.
"""

from __future__ import annotations

import argparse
import copy
import json
from importlib import resources

import numpy as np

_TEMPLATES: list[dict] | None = None


def templates() -> list[dict]:
    global _TEMPLATES
    if _TEMPLATES is None:
        root = resources.files("oligotrial.examples")
        _TEMPLATES = [json.loads(p.read_text()) for p in sorted(root.iterdir(), key=str) if str(p).endswith(".json")]
    return _TEMPLATES


def make_record(seed: int, i: int) -> dict:
    rng = np.random.default_rng([seed, i])
    rec = copy.deepcopy(templates()[int(rng.integers(len(templates())))])
    rec["id"] = f"SYN-{seed}-{i:06d}"
    if "birth_date" in rec:
        y, m, d = rec["birth_date"].split("-")
        rec["birth_date"] = f"{int(y) + int(rng.integers(-12, 12))}-{m}-{d}"
    for lab in rec.get("labs") or ():
        lab["value"] = round(lab["value"] * float(rng.uniform(0.7, 1.3)), 3)
    for a in rec.get("assessments") or ():
        for f in a["findings"]:
            for key in ("diameter_mm", "short_axis_mm"):
                if key in f:
                    f[key] = round(f[key] * float(rng.uniform(0.75, 1.25)), 1)
    for p in rec.get("performance") or ():
        if p["scale"] == "ECOG":
            p["score"] = int(min(5, max(0, p["score"] + rng.integers(-1, 2))))
    if rec.get("attestations") and rng.random() < 0.3:
        rec["attestations"] = rec["attestations"][: int(rng.integers(len(rec["attestations"])))]
    for key in ("conditions", "radiotherapy", "studies"):
        if key in rec and rng.random() < 0.1:
            del rec[key]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        for i in range(args.n):
            fh.write(json.dumps(make_record(args.seed, i)) + "\n")


if __name__ == "__main__":
    main()
