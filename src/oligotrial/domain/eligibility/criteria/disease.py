"""Leaves on the disease itself: the trial's disease state (progressing, residual or counted
sites from ``domain.response.counting``), lesions by organ, brain metastases, involved organs,
metastatic disease, and the date of the latest imaging.
"""

from __future__ import annotations

import re
from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _disease_state,
    _fmt,
    _op,
    _window_resolver,
)
from oligotrial.domain.eligibility.kleene import (
    Context,
    Node,
    Outcome,
    met,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf
from oligotrial.domain.kernel import Reason, reason_text


@leaf("assessment_within")
def _assessment_within(params: dict) -> Node:
    """The latest imaging (of ``modalities``) within the window before the screening date.
    ``reading`` labels a criterion that the protocol reads as this check though the registry
    says more (e.g. "comprehensive examination"): the reason starts with it, marked as our
    reading, so it is never taken for the registry's words."""
    _check_keys(params, {"days", "window", "modalities", "reading"})
    mods = set(params.get("modalities") or ())
    window = _window_resolver(params)
    reading = params.get("reading")
    if reading is not None and (not isinstance(reading, str) or not reading.strip()):
        raise ValueError("reading: expected a sentence saying what the protocol reads the criterion as")
    label = f"{reading} (our reading, not the registry's words): " if reading else ""

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        scans = [a for a in ctx.patient.assessments or () if a.date <= ctx.as_of and (not mods or a.modality in mods)]
        if not scans:
            return unknown(f"{label}no imaging assessment recorded", [f"imaging within {days} days"])
        last = max(scans, key=lambda a: a.date)
        age = (ctx.as_of - last.date).days
        ok = age <= days
        return (met if ok else not_met)(
            lambda: (
                f"{label}latest {last.modality} on {_fmt(last.date)}, {age} days before "
                f"screening (required within {days})"
            ),
            [f"assessment {_fmt(last.date)}"],
        )

    return node


def _range_check(name: str, lo: int | None, hi: int | None, rng: dict) -> tuple[bool | None, Reason]:
    """Whether a count known to lie in ``lo``..``hi`` is within ``rng`` (None: it depends on
    what is unknown); the reason is formatted when read."""
    mn, mx = rng.get("min"), rng.get("max")
    if lo is None:
        return None, f"{name} unknown"

    def txt_req() -> tuple[str, str]:
        txt = f"{name} {lo if lo == hi else f'{lo}-{hi}'}"
        req = f"{'' if mn is None else f'>= {mn}'}{' and ' if mn is not None and mx is not None else ''}{'' if mx is None else f'<= {mx}'}"
        return txt, req

    ok_lo = (mn is None or lo >= mn) and (mx is None or lo <= mx)
    ok_hi = (mn is None or hi >= mn) and (mx is None or hi <= mx)
    if ok_lo == ok_hi:

        def decided() -> str:
            txt, req = txt_req()
            return f"{txt} (required {req})"

        return ok_lo, decided

    def undecided() -> str:
        txt, req = txt_req()
        return f"{txt}: cannot decide {req}"

    return None, undecided


@leaf("disease_state")
def _disease(params: dict) -> Node:
    """The trial's disease state (``domain.response.counting``) against ranges of counted lesions,
    sites, organs and intracranial sites, progression, the largest lesion and measurable lesions.
    Lesions the protocol's counting leaves out (treated before enrolment) are out of every count
    shown and judged, and the reason names them."""
    _check_keys(
        params,
        {
            "counted",
            "sites",
            "organs",
            "intracranial_sites",
            "progression_detected",
            "largest_mm",
            "measurable_counted",
        },
    )

    def node(ctx: Context) -> Outcome:
        ds = _disease_state(ctx)
        if ds.judged_scan is None:
            return unknown("no imaging assessment on or before the screening date", list(ds.missing))
        inputs = ds.inputs
        checks: list[tuple[bool | None, Any]] = []
        extra_missing: list[str] = []
        treated = (
            (
                f" ({', '.join(f'{lid}: {how}' for lid, how in zip(ds.treated_uncounted, ds.treated_how))}; "
                "treated before enrolment, not counted)"
            )
            if ds.treated_uncounted
            else ""
        )
        n_c, n_u = len(ds.counted), len(ds.uncertain)
        if "counted" in params:
            ok, why = _range_check("lesions", n_c, n_c + n_u, params["counted"])

            def counted_why(why=why) -> str:
                detail = ", ".join(f"{s.lesion}: {s.reason}" for s in ds.lesions if s.lesion in ds.counted)
                return f"{reason_text(why)}{f' [{detail}]' if detail else ''}"

            checks.append((ok, counted_why))
        if "sites" in params:
            checks.append(_range_check("sites", ds.sites, ds.sites_max, params["sites"]))
        if "organs" in params:
            checks.append(_range_check("organs", ds.organs, ds.organs_max, params["organs"]))
        if "intracranial_sites" in params:
            extra = (
                f" ({', '.join(ds.intracranial_uncounted)} treated before enrolment, not counted)"
                if ds.intracranial_uncounted
                else ""
            )
            ok, why = _range_check(
                "intracranial sites", ds.intracranial_sites, ds.intracranial_sites, params["intracranial_sites"]
            )
            checks.append((ok, lambda why=why, extra=extra: reason_text(why) + extra))
        if "progression_detected" in params:
            want = params["progression_detected"]
            pd_ = ds.progression_detected
            if pd_ is None:
                checks.append((None, "progression status uncertain"))
            else:
                checks.append((pd_ == want, "progression detected" if pd_ else "no progression"))
        if "largest_mm" in params:
            r = params["largest_mm"]
            cmp_, op_txt = _op(r.get("op", "<=")), r.get("op", "<=")
            if r.get("nodes") == "long_axis":
                # the maximum diameter: a node's long axis (its short axis is only a lower bound)
                findings = {
                    f.lesion: f for a in ctx.patient.assessments or () if a.date == ds.judged_scan for f in a.findings
                }
                sized, node_missing = [], []
                for s in ds.lesions:
                    if s.lesion not in ds.counted:
                        continue
                    f = findings.get(s.lesion)
                    if s.kind == "lymph_node" or s.organ == "lymph_node":
                        if f is not None and f.long_axis_mm is not None:
                            sized.append((s.lesion, f.long_axis_mm, "long axis"))
                        elif s.size_mm is not None and not cmp_(s.size_mm, r["max"]):
                            sized.append((s.lesion, s.size_mm, "short axis, so longer still"))
                        else:
                            node_missing.append(s.lesion)
                    else:
                        sized.append((s.lesion, s.size_mm, "diameter"))
                over = [x for x in sized if x[1] is not None and not cmp_(x[1], r["max"])]
                if over:
                    lid, mm, how = max(over, key=lambda x: x[1])
                    checks.append(
                        (
                            False,
                            (
                                f"counted lesion {lid} {mm:g} mm ({how}) (required maximum diameter "
                                f"{op_txt} {r['max']:g} mm)"
                            ),
                        )
                    )
                elif any(x[1] is None for x in sized):
                    checks.append((None, "size of a counted lesion not recorded"))
                elif node_missing:
                    nm = ", ".join(node_missing)
                    checks.append((None, f"maximum diameter (long_axis_mm) of counted node(s) {nm} not recorded"))
                    extra_missing.extend(
                        f"long_axis_mm of lymph node {n} at {_fmt(ds.judged_scan)}" for n in node_missing
                    )
                elif sized:
                    lid, mm, how = max(sized, key=lambda x: x[1])
                    checks.append(
                        (
                            True,
                            (
                                f"largest counted lesion {mm:g} mm ({lid}, {how}) (required maximum diameter "
                                f"{op_txt} {r['max']:g} mm)"
                            ),
                        )
                    )
                else:
                    checks.append((True, "no counted lesion to size"))
            else:
                sizes = [s.size_mm for s in ds.lesions if s.lesion in ds.counted]
                recorded = [s for s in sizes if s is not None]
                if len(recorded) < len(sizes):
                    checks.append((None, "size of a counted lesion not recorded"))
                elif recorded:
                    big = max(recorded)
                    ok = cmp_(big, r["max"])
                    checks.append((ok, f"largest counted lesion {big:g} mm (required {op_txt} {r['max']:g} mm)"))
                else:
                    checks.append((True, "no counted lesion to size"))
        if "measurable_counted" in params:
            lesion_map = ctx.patient_memo("lesion_map", ctx.patient.lesion_map)
            n_meas = 0
            for s in ds.lesions:
                if s.lesion not in ds.counted or s.size_mm is None:
                    continue
                les = lesion_map.get(s.lesion)
                is_node = s.kind == "lymph_node" or s.organ == "lymph_node"
                if s.organ == "bone" and (les is None or les.soft_tissue_component is not True):
                    continue
                if (is_node and s.size_mm >= 15) or (not is_node and s.size_mm >= 10):
                    n_meas += 1
            ok = n_meas >= params["measurable_counted"].get("min", 1)
            checks.append(
                (
                    ok,
                    (
                        f"{n_meas} measurable lesion(s) by RECIST 1.1 (>=10 mm, nodes >=15 mm short axis; "
                        "bone only with a soft-tissue component)"
                    ),
                )
            )

        def reason() -> str:
            return "; ".join(w if w.__class__ is str else w() for _, w in checks) + treated

        if any(c is False for c, _ in checks):
            return not_met(reason, inputs)
        if any(c is None for c, _ in checks):
            return unknown(reason, list(ds.missing) + extra_missing or ["lesion evaluation at the judged scan"], inputs)
        return met(reason, inputs)

    return node


# ---- where a lesion lies: the words of its location or node region ---------------------------------

_NOT_THORACIC_HILUM = re.compile(r"hepat|liver|porta|renal|kidney|splen|biliar|bile", re.IGNORECASE)
_THORAX = re.compile(
    r"mediastin|subcarinal|paratrache|pretrache|aorto-?pulmonary|prevascular|para-?o?esophag|pulmonary ligament|"
    r"interlobar|intrapulmonary|peribronch|bronch|internal mammary|intercostal|pericardi|cardiophrenic|"
    r"chest wall|\bribs?\b|stern(um|al)|thora(x|cic)|\bstation\s*(1[0-4]|[2-9])|\b(1[0-4]|[2-9])[LR]\b",
    re.IGNORECASE,
)
_HILUM = re.compile(r"\bhil(ar|um)\b", re.IGNORECASE)
_THORACIC_VERTEBRA = re.compile(r"\bT(1[0-2]|[1-9])\b")
_SPINE = re.compile(
    r"vertebra|\bspin(e|al)\b|sacr(um|al)|coccy|\b(cervical|thoracic|lumbar|lumbosacral|"
    r"thoracolumbar|cervicothoracic)\b|\b(C[1-7]|T(1[0-2]|[1-9])|L[1-5]|S[1-5])\b",
    re.IGNORECASE,
)


def names_region(region: str, organ: str | None, where: str | None) -> bool:
    """Whether a lesion's recorded location (or node region) names a structure of ``region``.

    ``thorax``: the thoracic cavity and its wall: the mediastinum and its nodes (IASLC lymph node
    map stations 2-14: paratracheal, prevascular, aortopulmonary, subcarinal, paraoesophageal,
    pulmonary ligament, hilar, interlobar; Rusch VW et al., J Thorac Oncol 2009;4:568-77), the
    pericardium, the chest wall, and the bony thorax (ribs, sternum, thoracic vertebrae T1-T12;
    Gray's Anatomy, the thoracic cage). A hilum of the liver, kidney or spleen is not thoracic.
    ``spine``: the vertebral column, cervical to sacrum and coccyx (the segments the Spinal
    Instability Neoplastic Score grades: Fisher CG et al., Spine 2010;35:E1221-9). A location
    that names neither is not read as one: the caller decides what an unnamed one means."""
    if not where:
        return False
    if region == "thorax":
        if _THORAX.search(where):
            return True
        if _HILUM.search(where) and not _NOT_THORACIC_HILUM.search(where):
            return True
        return organ == "bone" and bool(_THORACIC_VERTEBRA.search(where))
    if region == "spine":
        return organ == "bone" and bool(_SPINE.search(where))
    raise ValueError(f"region {region!r}: expected thorax or spine")


_REGIONS = ("thorax", "spine")


@leaf("lesions_in_organs")
def _lesions_in_organs(params: dict) -> Node:
    """Any counted (progressing or residual) lesion in the given organs.

    ``review_organs``: organs that may or may not lie in the region the criterion names (a node,
    a bone or soft tissue may be thoracic or not); a counted lesion there whose location names the
    ``region`` (see :func:`names_region`) is in it; one whose location does not, with none in
    ``organs``, makes the leaf unknown for review (``review_as`` names the region)."""
    _check_keys(params, {"organs", "among", "review_organs", "review_as", "region"}, {"organs"})
    organs = set(params["organs"])
    review = set(params.get("review_organs") or ())
    region = params.get("review_as", f"in {', '.join(sorted(organs))}")
    named = params.get("region")
    if named is not None and named not in _REGIONS:
        raise ValueError(f"region {named!r}: expected one of {', '.join(_REGIONS)}")

    def node(ctx: Context) -> Outcome:
        ds = _disease_state(ctx)
        pool = ds.lesions if params.get("among") == "all" else [s for s in ds.lesions if s.lesion in ds.counted]
        hits = [s.lesion for s in pool if s.organ in organs and s.status not in ("absent",)]
        if hits:
            return met(lambda: f"{', '.join(hits)} in {', '.join(sorted(organs))}", list(ds.inputs))
        unk = [s.lesion for s in pool if s.organ is None]
        if unk:
            return unknown(lambda: f"organ of {', '.join(unk)} not recorded", [f"organ of lesion {u}" for u in unk])
        maybe = [s for s in pool if s.organ in review and s.status not in ("absent",)]
        lesion_map = ctx.patient_memo("lesion_map", ctx.patient.lesion_map)

        def loc_of(s) -> str | None:
            les = lesion_map.get(s.lesion)
            return s.node_region or (les.location if les is not None else None)

        def where(s) -> str:
            loc = loc_of(s)
            return f"{s.lesion} ({s.organ}{f', {loc}' if loc else ''})"

        if named is not None:
            inside = [s for s in maybe if names_region(named, s.organ, loc_of(s))]
            if inside:
                return met(lambda: f"{', '.join(where(s) for s in inside)} {region}", list(ds.inputs))
        if maybe:
            return unknown(
                lambda: f"{', '.join(where(s) for s in maybe)}: may lie {region} (review)",
                [f"whether lesion {s.lesion} is {region}" for s in maybe],
                list(ds.inputs),
            )
        return not_met(lambda: f"no lesion in {', '.join(sorted(organs))}", list(ds.inputs))

    return node


def _brain_ids(p) -> frozenset[str]:
    """Brain lesions of the record and new ones on imaging."""
    return frozenset(
        [lesion.id for lesion in p.lesions or () if lesion.organ == "brain"]
        + [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.organ == "brain"]
    )


@leaf("brain_metastases")
def _brain(params: dict) -> Node:
    """Brain metastases at the latest assessment (``untreated_only``: not in a prior RT course)."""
    _check_keys(params, {"untreated_only", "max_diameter_mm", "diameter_op", "total_volume_cc", "volume_op"})

    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        ids = set(ctx.patient_memo("brain_ids", _brain_ids, p))
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions (complete record of known disease)"])
        if params.get("untreated_only"):
            treated = {lid for c in p.radiotherapy or () if c.start <= ctx.as_of for lid in (c.lesions or ())}
            if p.radiotherapy is None and ids:
                return unknown("whether brain metastases were treated is not recorded", ["radiotherapy"])
            ids = ids - treated
        if "max_diameter_mm" in params or "total_volume_cc" in params:
            latest: dict[str, Any] = {}
            for a in p.assessments_sorted():
                for f in a.findings:
                    if f.lesion in ids:
                        latest[f.lesion] = f
            reasons, decided = [], False
            missing = []
            if "max_diameter_mm" in params:
                cmp_ = _op(params.get("diameter_op", ">"))
                for lid in sorted(ids):
                    f = latest.get(lid)
                    if f is None or f.size_mm is None:
                        missing.append(f"size of brain metastasis {lid}")
                    elif cmp_(f.size_mm, params["max_diameter_mm"]):
                        reasons.append(
                            f"{lid} {f.size_mm:g} mm {params.get('diameter_op', '>')} {params['max_diameter_mm']:g} mm"
                        )
                        decided = True
            if "total_volume_cc" in params:
                vols = [latest[lid].volume_cc if lid in latest else None for lid in ids]
                if any(v is None for v in vols) and ids:
                    missing.append("volume_cc of each brain metastasis")
                else:
                    total = sum(v for v in vols if v is not None)
                    if _op(params.get("volume_op", ">"))(total, params["total_volume_cc"]):
                        reasons.append(f"total brain-metastasis volume {total:g} cc > {params['total_volume_cc']:g} cc")
                        decided = True
            if decided:
                return met("; ".join(reasons), ["lesions", "assessments"])
            if missing:
                return unknown("brain metastasis size not recorded", missing)
            return not_met(
                lambda: f"{len(ids)} brain metastasis(es), none over the size or volume limits",
                ["lesions", "assessments"],
            )
        if ids:
            return met(lambda: f"brain metastases: {', '.join(sorted(ids))}", ["lesions"])
        return not_met("no brain metastases recorded", ["lesions"])

    return node


@leaf("organ_involved")
def _organ_involved(params: dict) -> Node:
    """Any lesion of the record (or a new one on imaging) in ``organs`` (of ``kinds``).

    With ``region`` (``spine``): only lesions whose recorded location names it count (see
    :func:`names_region`): met when one does; unknown when a lesion in ``organs`` has no
    location recorded (it may lie there: its location decides); not met when every one is
    located elsewhere (a rib, the pelvis)."""
    _check_keys(params, {"organs", "kinds", "region"}, {"organs"})
    organs, kinds = set(params["organs"]), set(params.get("kinds") or ("metastasis", "primary", "lymph_node"))
    memo_key = ("organ_involved", frozenset(organs), frozenset(kinds))
    region = params.get("region")
    if region is not None and region not in _REGIONS:
        raise ValueError(f"region {region!r}: expected one of {', '.join(_REGIONS)}")

    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions"])

        def make() -> list[str]:
            found = [lesion.id for lesion in p.lesions if lesion.organ in organs and lesion.kind in kinds]
            return found + [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.organ in organs]

        hits = ctx.patient_memo(memo_key, make)
        if hits and region is not None:
            lesion_map = ctx.patient_memo("lesion_map", p.lesion_map)
            ids = list(dict.fromkeys(hits))
            placed = {
                lid: (lesion_map[lid].organ, lesion_map[lid].location or lesion_map[lid].node_region)
                if lid in lesion_map
                else (None, None)
                for lid in ids
            }
            inside = [lid for lid in ids if names_region(region, *placed[lid])]
            if inside:
                return met(
                    lambda: f"{', '.join(f'{lid} ({placed[lid][1]})' for lid in inside)} in the {region}", ["lesions"]
                )
            unplaced = [lid for lid in ids if not placed[lid][1]]
            if unplaced:
                return unknown(
                    lambda: f"location of {', '.join(unplaced)} not recorded: in the {region} or not",
                    [f"location of lesion {lid} (in the {region}?)" for lid in unplaced],
                    ["lesions"],
                )
            return not_met(
                lambda: f"no lesion in the {region} ({', '.join(f'{lid}: {placed[lid][1]}' for lid in ids)})",
                ["lesions"],
            )
        if hits:
            return met(lambda: f"{', '.join(sorted(set(hits)))} in {', '.join(sorted(organs))}", ["lesions"])
        return not_met(
            lambda: f"no lesion in {', '.join(sorted(organs))}" + (f" (none in the {region})" if region else ""),
            ["lesions"],
        )

    return node


@leaf("has_metastases")
def _has_mets(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions (complete record of known disease)"])
        mets = [lesion.id for lesion in p.lesions if lesion.kind == "metastasis"]
        mets += [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.state != "absent"]
        nodes = [lesion.id for lesion in p.lesions if lesion.kind == "lymph_node"]
        if mets:
            return met(lambda: f"metastatic disease on imaging: {', '.join(sorted(set(mets)))}", ["lesions"])
        if nodes and p.cancer is not None and p.cancer.stage and p.cancer.stage.upper().startswith("IV"):
            return met(lambda: f"stage {p.cancer.stage} with nodal disease", ["lesions", "cancer.stage"])
        return not_met("no metastasis recorded", ["lesions"])

    return node
