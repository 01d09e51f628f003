"""Radiotherapy: is this dose, to this target, in this patient, within the trial and safe?

Owns: linear-quadratic arithmetic, BED/EQD2 with LQ-L and USC variants and the alpha/beta table
(:mod:`.dose`); re-irradiation, composite EQD2 and the HyTEC spinal cord rules
(:mod:`.reirradiation`); DVHs from structures and a dose grid (:mod:`.dvh`); organ-at-risk
constraints (:mod:`.oar`); a prescription checked against a trial arm's regimens
(:mod:`.prescription`), its fraction dates against the regimen's calendar (:mod:`.course_dates`);
geometric exclusions from the plan or the record (:mod:`.geometry`).

Depends on: ``record``, ``kernel``. The arm's regimens arrive as data from the protocol.
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "course_dates": "course_dates",
    "dose": "dose",
    "dvh": "dvh",
    "geometry": "geometry",
    "oar": "oar",
    "prescription": "prescription",
    "reirradiation": "reirradiation",
    "AlphaBetaEntry": "dose",
    "AlphaBetaTable": "dose",
    "Fractionation": "dose",
    "bed_gy": "dose",
    "eqd2_gy": "dose",
    "DVH": "dvh",
    "DoseGrid": "dvh",
    "Structure": "dvh",
    "compute_dvh": "dvh",
    "parse_metric": "dvh",
    "Constraint": "oar",
    "ConstraintSet": "oar",
    "check_constraint": "oar",
    "check_plan_oars": "oar",
    "normalise_structure_name": "oar",
    "RTCheckReport": "prescription",
    "check_prescription": "prescription",
    "parse_prescription": "prescription",
    "HytecCordRules": "reirradiation",
    "NewCourse": "reirradiation",
    "PriorCourse": "reirradiation",
    "check_composite": "reirradiation",
    "check_hytec_cord": "reirradiation",
    "cumulative_eqd2_gy": "reirradiation",
    "check_geometric_exclusions": "geometry",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
