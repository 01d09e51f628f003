"""The trial report's cost-effectiveness is a function of the trial's data, not of its
participants' random ids (issue 25 item 9: the PSA's ICER moved between two runs of the same
seeded demo, 140,050 then 142,210, because the bootstrap resampled rows in ADTTE's order, which
is by participant id)."""

from __future__ import annotations

import random

from oligotrial.service.report import _cea


def _rows(ids, seed):
    rng = random.Random(seed)
    out = []
    for i, pid in enumerate(ids):
        arm = "sabr" if i % 2 else "palliative"
        pfs = rng.randint(20, 300)
        os_ = pfs + rng.randint(0, 200)
        out += [{"USUBJID": pid, "ARM": arm, "PARAMCD": "PFS", "AVAL": pfs, "CNSR": int(rng.random() < 0.3)},
                {"USUBJID": pid, "ARM": arm, "PARAMCD": "OS", "AVAL": os_, "CNSR": int(rng.random() < 0.5)}]
    return out


def test_the_psa_does_not_depend_on_the_participants_ids():
    rows = _rows([f"p{i:02d}" for i in range(30)], seed=4)
    renamed = {f"p{i:02d}": f"{random.Random(i).getrandbits(64):016x}" for i in range(30)}   # another order by id
    other = [dict(r, USUBJID=renamed[r["USUBJID"]]) for r in rows]
    by = {p: [r for r in rows if r["PARAMCD"] == p] for p in ("PFS", "OS")}
    by_other = {p: sorted((r for r in other if r["PARAMCD"] == p), key=lambda r: r["USUBJID"]) for p in ("PFS", "OS")}
    assert [r["AVAL"] for r in by_other["OS"]] != [r["AVAL"] for r in by["OS"]]     # the rows come in another order
    a = _cea(by, "palliative", ["sabr", "palliative"])
    b = _cea(by_other, "palliative", ["sabr", "palliative"])
    assert a["psa"]["incremental"] == b["psa"]["incremental"] and a["psa"]["ceac"] == b["psa"]["ceac"]
    assert a["arms"] == b["arms"]          # to the last bit: the sums run in one order
    assert a["currency"]["label"] == "unstated monetary units"
