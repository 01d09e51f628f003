"""ESTRO-EORTC classification of oligometastatic disease. Pure logic, no I/O.

Guckenberger M et al. Characterisation and classification of oligometastatic disease: a
European Society for Radiotherapy and Oncology and European Organisation for Research and
Treatment of Cancer consensus recommendation. Lancet Oncol 2020;21:e18-e28 (decision tree,
Figure 2). Nine states:

1. history of polymetastatic disease -> *induced* OMD; else a previous OMD diagnosis ->
   *repeat* OMD; else *de-novo* OMD;
2. de-novo: OMD diagnosed <= 6 months after the primary -> **synchronous OMD**; otherwise
   metachronous: not on active systemic therapy -> **metachronous oligorecurrence**, on
   therapy -> **metachronous oligoprogression**;
3. repeat / induced: not on therapy -> **oligorecurrence**; on therapy with a progressing
   lesion -> **oligoprogression**; on therapy without progression -> **oligopersistence**.

A needed input that is absent gives ``unknown`` with the missing inputs named; inputs the branch
does not need are not asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from oligotrial.domain.kernel import add_months  # calendar months: the kernel's one rule (periods)
from oligotrial.domain.record.patient import Patient

Date = dt.date

STATES = (
    "synchronous_oligometastatic_disease",
    "metachronous_oligorecurrence",
    "metachronous_oligoprogression",
    "repeat_oligorecurrence",
    "repeat_oligoprogression",
    "repeat_oligopersistence",
    "induced_oligorecurrence",
    "induced_oligoprogression",
    "induced_oligopersistence",
)


@dataclass(frozen=True)
class OligoInputs:
    prior_polymetastatic: bool | None
    prior_oligometastatic: bool | None
    primary_diagnosed_on: Date | None
    omd_diagnosed_on: Date | None
    on_systemic_therapy: bool | None
    progressing: bool | None
    synchronous_months: int = 6


@dataclass(frozen=True)
class OligoState:
    state: str  # one of STATES or "unknown"
    branch: str | None  # de_novo, repeat, induced
    inputs_used: dict = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "branch": self.branch,
            "inputs_used": self.inputs_used,
            "missing": list(self.missing),
            "reasons": list(self.reasons),
            "source": "Guckenberger et al., Lancet Oncol 2020;21:e18-28 (ESTRO-EORTC)",
        }


def classify(inp: OligoInputs) -> OligoState:
    """The ESTRO-EORTC state from explicit inputs (see the module docstring)."""
    used: dict = {}
    reasons: list[str] = []

    def unknown(branch: str | None, *missing: str) -> OligoState:
        return OligoState("unknown", branch, used, tuple(missing), tuple(reasons))

    used["prior_polymetastatic"] = inp.prior_polymetastatic
    if inp.prior_polymetastatic is None:
        return unknown(None, "cancer.prior_polymetastatic")
    if inp.prior_polymetastatic:
        branch = "induced"
        reasons.append("history of polymetastatic disease: induced OMD")
    else:
        used["prior_oligometastatic"] = inp.prior_oligometastatic
        if inp.prior_oligometastatic is None:
            return unknown(None, "cancer.prior_oligometastatic")
        branch = "repeat" if inp.prior_oligometastatic else "de_novo"
        reasons.append(
            "previous OMD diagnosis: repeat OMD" if inp.prior_oligometastatic else "first diagnosis of OMD: de-novo OMD"
        )
    if branch == "de_novo":
        used["primary_diagnosed_on"] = inp.primary_diagnosed_on and inp.primary_diagnosed_on.isoformat()
        used["omd_diagnosed_on"] = inp.omd_diagnosed_on and inp.omd_diagnosed_on.isoformat()
        missing = [
            n
            for n, v in (
                ("cancer.diagnosed_on", inp.primary_diagnosed_on),
                ("cancer.metastatic_on", inp.omd_diagnosed_on),
            )
            if v is None
        ]
        if missing:
            return unknown(branch, *missing)
        assert inp.primary_diagnosed_on is not None and inp.omd_diagnosed_on is not None
        if inp.omd_diagnosed_on <= add_months(inp.primary_diagnosed_on, inp.synchronous_months):
            reasons.append(f"OMD within {inp.synchronous_months} months of the primary diagnosis: synchronous")
            return OligoState("synchronous_oligometastatic_disease", branch, used, (), tuple(reasons))
        reasons.append(f"OMD more than {inp.synchronous_months} months after the primary diagnosis: metachronous")
        used["on_systemic_therapy"] = inp.on_systemic_therapy
        if inp.on_systemic_therapy is None:
            return unknown(branch, "systemic_therapy (active at OMD diagnosis)")
        state = "metachronous_oligoprogression" if inp.on_systemic_therapy else "metachronous_oligorecurrence"
        reasons.append("on active systemic therapy" if inp.on_systemic_therapy else "not on active systemic therapy")
        return OligoState(state, branch, used, (), tuple(reasons))
    used["on_systemic_therapy"] = inp.on_systemic_therapy
    if inp.on_systemic_therapy is None:
        return unknown(branch, "systemic_therapy (active at OMD diagnosis)")
    if not inp.on_systemic_therapy:
        reasons.append("not on active systemic therapy: oligorecurrence")
        return OligoState(f"{branch}_oligorecurrence", branch, used, (), tuple(reasons))
    used["progressing"] = inp.progressing
    if inp.progressing is None:
        return unknown(branch, "progression status of the lesions (assessments)")
    reasons.append(
        "on therapy with a progressing lesion: oligoprogression"
        if inp.progressing
        else "on therapy without progression: oligopersistence"
    )
    return OligoState(
        f"{branch}_oligo{'progression' if inp.progressing else 'persistence'}", branch, used, (), tuple(reasons)
    )


def inputs_from_patient(patient: Patient, *, progressing: bool | None, omd_date: Date | None = None) -> OligoInputs:
    """The classifier's inputs from a record. The OMD diagnosis date is ``cancer.metastatic_on``
    (or ``omd_date``); therapy is active at that date when a systemic_therapy line started on or
    before it and had not ended before it; ``systemic_therapy`` absent = unknown."""
    c = patient.cancer
    omd = omd_date or (c.metastatic_on if c else None)
    on_therapy: bool | None
    if patient.systemic_therapy is None or omd is None:
        on_therapy = None
    else:
        on_therapy = any(t.start <= omd and (t.end is None or t.end >= omd) for t in patient.systemic_therapy)
    return OligoInputs(
        prior_polymetastatic=c.prior_polymetastatic if c else None,
        prior_oligometastatic=c.prior_oligometastatic if c else None,
        primary_diagnosed_on=c.diagnosed_on if c else None,
        omd_diagnosed_on=omd,
        on_systemic_therapy=on_therapy,
        progressing=progressing,
    )
