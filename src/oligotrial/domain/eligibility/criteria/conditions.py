"""Leaves on conditions, biomarkers, clinical findings (SINS, oral intake, ascites,
encephalopathy) and history: other studies, transfusions.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _attestations,
    _check_keys,
    _fmt,
    _op,
    _window_resolver,
)
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Outcome,
    met,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf


@leaf("condition")
def _condition(params: dict) -> Node:
    _check_keys(params, {"any_of", "within_days", "window", "history"}, {"any_of"})
    if "within_days" in params and "window" in params:
        raise ValueError("give within_days or window, not both")
    names = list(params["any_of"])
    wanted = frozenset(names)
    # a condition since a date counts while that date is within the window before the screening
    # date (a protocol window in calendar months counts back to the same day N months earlier)
    window = _window_resolver({"days": params["within_days"]} if "within_days" in params else params)
    history = bool(params.get("history", False))
    not_recorded = unknown(f"conditions not recorded ({', '.join(names)})", [f"conditions ({' / '.join(names)})"])
    none_found = not_met(f"none of {', '.join(names)} {'recorded' if history else 'active'}", ["conditions"])

    def node(ctx: Context) -> Outcome:
        conds = ctx.patient.conditions
        if conds is None:
            return not_recorded
        hits = [c for c in conds if c.name in wanted]
        if not hits:
            return none_found
        within = window(ctx)
        active = [
            c
            for c in hits
            if c.active is True
            or history
            or (within is not None and c.since is not None and (ctx.as_of - c.since).days <= within)
        ]
        if active:
            c = active[0]
            state = "active" if c.active else ("history" if history else f"since {_fmt(c.since)}")
            return met(lambda: f"{c.name} ({state}){'' if not c.detail else f': {c.detail}'}", [f"condition {c.name}"])
        undecided = [c for c in hits if c.active is None and not (within is not None and c.since is not None)]
        if undecided:
            return unknown(
                lambda: f"{undecided[0].name} recorded without saying whether it is active",
                [f"conditions.{undecided[0].name}.active"],
            )
        return none_found

    return node


def _bm_key(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())


class _Gene:
    """One driver gene of a biomarker leaf: its names (``gene`` and ``aliases``) and, where only
    some variants have an approved targeted therapy, those variants (``variants``; None: any
    positive result of the gene is the driver)."""

    __slots__ = ("display", "keys", "variants")

    def __init__(self, raw: Any) -> None:
        if isinstance(raw, str):
            names, variants = [raw], None
        elif isinstance(raw, list) and raw and all(isinstance(n, str) for n in raw):
            names, variants = list(raw), None
        elif isinstance(raw, dict):
            _check_keys(raw, {"gene", "aliases", "variants"}, {"gene"})
            names = [raw["gene"], *raw.get("aliases", ())]
            variants = list(raw["variants"]) if raw.get("variants") else None
        else:
            raise ValueError(
                f"biomarker {raw!r}: expected a gene name, a list of its names or {{gene, aliases, variants}}"
            )
        self.keys = tuple(_bm_key(n) for n in names)
        self.variants = None if variants is None else tuple(_bm_key(v) for v in variants)
        self.display = names[0] if variants is None else f"{names[0]} {variants[0]}"

    def read(self, b) -> tuple[str, bool | None] | None:
        """How the record's result ``b`` bears on this gene: None when it is another gene's;
        else (the result as recorded, whether it is about the actionable variant: True, False
        (another variant) or None (no variant recorded))."""
        tokens = [t for t in re.split(r"[^A-Za-z0-9.]+", b.name) if t]
        if not tokens or _bm_key(tokens[0]) not in self.keys:
            return None
        label = b.name + (f" ({b.detail})" if b.detail else "")
        if self.variants is None:
            return label, True
        variant = _bm_key(" ".join(tokens[1:])) + _bm_key(b.detail or "")
        if not variant:
            return label, None
        return label, any(v in variant for v in self.variants)


def _gene_status(g: _Gene, bms) -> tuple[str | None, list[str]]:
    """A gene's status on the record: ``positive`` (the driver: the gene, or its actionable
    variant), ``judge`` (a positive result of another variant, or without its variant: whether
    it is a driver is a judgement), ``negative`` (the gene, or its actionable variant, tested
    negative) or None (not tested); with the results as recorded that decide it."""
    pos: list[str] = []
    judge: list[str] = []
    neg: list[str] = []
    for b in bms or ():
        hit = g.read(b)
        if hit is None or b.status == "unknown":
            continue
        label, actionable = hit
        if b.status == "positive":
            (pos if actionable else judge).append(
                label if actionable is not None else f"{label} positive (variant not recorded)"
            )
        elif actionable is not False:  # a negative result for another variant says nothing
            neg.append(label)
    if pos:
        return "positive", pos
    if judge:
        return "judge", judge
    return ("negative", neg) if neg else (None, [])


@leaf("biomarker")
def _biomarker(params: dict) -> Node:
    """``any_positive`` or ``all_negative`` over named driver genes. A gene is a name, a list of
    its names (``[HER2, ERBB2]``) or ``{gene, aliases, variants}``; names compare without case,
    spaces or punctuation, and a result belongs to a gene when its name starts with one of them
    (``KRAS G12D``, or ``KRAS`` with ``detail: G12D``).

    ``variants`` lists the variants with an approved targeted therapy (KRAS G12C, BRAF V600E, MET
    exon 14 skipping, HER2 mutation): a positive result for such a variant is the driver; a
    positive result for another variant, or without its variant, is a judgement the registries
    leave open ("driver gene-positive, such as EGFR mutation or ALK fusion"): the investigator's
    attestation ``variant_attestation`` (favourable: not a driver for this trial) decides it,
    never an exclusion. Reasons name the result as recorded, never a variant the record lacks.

    With ``all_negative``, ``attestation`` names a key whose favourable answer covers the genes
    without a recorded result (e.g. "no other driver alteration"), except those listed in
    ``named``: the ones the registry names (EGFR, ALK) need a recorded result; a recorded positive
    result always decides. A recorded answer stands under ``assume_attested``, which fills only
    the answers no one has given.

    Sources: NCCN NSCLC v.2025 and the ESMO living guideline on oncogene-addicted metastatic
    NSCLC (2023) for the targeted first-line therapies per driver variant."""
    _check_keys(params, {"any_positive", "all_negative", "attestation", "named", "variant_attestation"})
    modes = [k for k in params if k not in ("attestation", "named", "variant_attestation")]
    if len(modes) != 1:
        raise ValueError("give one of any_positive, all_negative")
    mode = modes[0]
    if "attestation" in params and mode != "all_negative":
        raise ValueError("attestation goes with all_negative only")
    genes = [_Gene(raw) for raw in params[mode]]
    att_key = params.get("attestation")
    var_key = params.get("variant_attestation")
    named = {_bm_key(n) for n in params.get("named", ())}
    if named - {k for g in genes for k in g.keys}:
        raise ValueError(f"named {sorted(params['named'])}: expected names listed in {mode}")

    def answer(ctx: Context, key: str):
        """(the recorded attestation or None, whether it was assumed, the key's spec)."""
        spec = ctx.protocol.attestation_key(key)
        a = _attestations(ctx).get(key)
        return a, a is None and ctx.assume_attested, spec

    def judged(ctx: Context, labels: list[str]) -> tuple[Any, str, list[str], list[str], tuple[str, ...]]:
        """The judgement on positive results of variants without targeted therapy: (MET when
        they are not a driver for this trial, NOT_MET when they are, None when undecided)."""
        shown = "; ".join(labels)
        if var_key is None:
            return (
                None,
                f"{shown}: whether it makes the tumour driver gene-positive is not decided",
                [f"whether {shown} counts as a driver alteration"],
                ["biomarkers"],
                (),
            )
        a, assumed, spec = answer(ctx, var_key)
        if assumed:
            return (
                (MET if spec.favourable else NOT_MET),
                f"{shown}: assumed attested ({var_key} = {str(spec.favourable).lower()})",
                [],
                ["biomarkers"],
                (var_key,),
            )
        if a is None:
            return (
                None,
                (
                    f"{shown}: no approved targeted therapy for this variant (or the variant is not "
                    f"recorded); whether it makes the tumour driver gene-positive is the investigator's "
                    f"judgement: attestation {var_key} ({spec.question})"
                ),
                [f"attestation {var_key}"],
                ["biomarkers"],
                (),
            )
        not_driver = a.value == spec.favourable
        return (
            (MET if not_driver else NOT_MET),
            (
                f"{shown}: {'not ' if not_driver else ''}counted as a driver alteration ({var_key} = "
                f"{str(a.value).lower()}, {a.by}, {_fmt(a.date)})"
            ),
            [],
            ["biomarkers", f"attestation {var_key} by {a.by} on {_fmt(a.date)}"],
            (),
        )

    def combine(parts) -> Outcome:
        """Strong Kleene ``all`` of (verdict or None, reason, missing, inputs, assumed) parts."""
        worst = [p for p in parts if p[0] is NOT_MET] or [p for p in parts if p[0] is None] or list(parts)
        verdict = worst[0][0] if worst[0][0] is not None else UNKNOWN
        reason = "; ".join(p[1] for p in worst)
        missing = tuple(dict.fromkeys(m for p in worst for m in p[2])) if verdict is UNKNOWN else ()
        inputs = tuple(dict.fromkeys(i for p in worst for i in p[3]))
        assumed = tuple(dict.fromkeys(a for p in parts for a in p[4]))
        return Outcome(verdict, reason, inputs, missing, assumed)

    def node(ctx: Context) -> Outcome:
        bms = ctx.patient.biomarkers
        status = [_gene_status(g, bms) for g in genes]
        pos = [lab for st, labs in status if st == "positive" for lab in labs]
        judge = [lab for st, labs in status if st == "judge" for lab in labs]
        untested = [g.display for g, (st, _) in zip(genes, status) if st is None]
        negative = [g.display for g, (st, _) in zip(genes, status) if st == "negative"]
        if mode == "any_positive":
            if pos:
                return met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
            parts = []
            if judge:
                v, why, miss, inp, assumed = judged(ctx, judge)
                # the judgement "not a driver" (MET) leaves the tumour driver-negative here
                parts.append(({MET: NOT_MET, NOT_MET: MET}.get(v), why, miss, inp, assumed))
                if v is NOT_MET:
                    return combine(parts)
            if untested:
                parts.append(
                    (None, f"{', '.join(untested)} not tested", [f"{n} status" for n in untested], ["biomarkers"], ())
                )
            if not parts or all(p[0] is NOT_MET for p in parts):
                parts.append((NOT_MET, f"{', '.join(negative) or 'none'} negative", [], ["biomarkers"], ()))
            return combine(parts)
        if pos:
            return not_met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
        parts = []
        must = [n for n in untested if _bm_key(n.split()[0]) in named]
        if must:
            parts.append(
                (
                    None,
                    f"{', '.join(must)} not tested (named by the registry: a recorded result is needed)",
                    [f"{n} status" for n in must],
                    ["biomarkers"],
                    (),
                )
            )
        if judge:
            parts.append(judged(ctx, judge))
        others = [n for n in untested if n not in must]
        if others and att_key is not None:
            a, assumed, spec = answer(ctx, att_key)
            if assumed:
                parts.append(
                    (
                        MET if spec.favourable else NOT_MET,
                        f"assumed attested ({att_key} = {str(spec.favourable).lower()})",
                        [],
                        [],
                        (att_key,),
                    )
                )
            elif a is not None:
                ok = a.value == spec.favourable
                parts.append(
                    (
                        MET if ok else NOT_MET,
                        (
                            f"{', '.join(negative) or 'none'} negative; {', '.join(others)} not recorded: "
                            f"{att_key} = {str(a.value).lower()} ({a.by}, {_fmt(a.date)})"
                        ),
                        [],
                        ["biomarkers", f"attestation {att_key} by {a.by} on {_fmt(a.date)}"],
                        (),
                    )
                )
            else:
                parts.append(
                    (
                        None,
                        f"{', '.join(others)} not tested, and no attestation {att_key} ({spec.question})",
                        [f"{n} status" for n in others] + [f"attestation {att_key}"],
                        ["biomarkers"],
                        (),
                    )
                )
        elif others:
            parts.append((None, f"{', '.join(others)} not tested", [f"{n} status" for n in others], ["biomarkers"], ()))
        if not parts:
            return met(lambda: f"{', '.join(negative)} negative", ["biomarkers"])
        return combine(parts)

    return node


@leaf("study_participation_within")
def _studies(params: dict) -> Node:
    _check_keys(params, {"days", "window", "interventional_only"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        studies = ctx.patient.studies
        days = window(ctx)
        if studies is None:
            return unknown("participation in other studies not recorded", ["studies (an empty list if none)"])
        start = ctx.as_of - dt.timedelta(days=days)
        hits = [
            s
            for s in studies
            if (not params.get("interventional_only", True) or s.interventional)
            and s.start <= ctx.as_of
            and (s.end is None or s.end >= start)
        ]
        if hits:
            return met(lambda: f"in study {hits[0].name} within {days} days", ["studies"])
        return not_met(lambda: f"no interventional study within {days} days", ["studies"])

    return node


@leaf("transfusion_within")
def _transfusion(params: dict) -> Node:
    _check_keys(params, {"days", "window"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        tr = ctx.patient.transfusions
        days = window(ctx)
        if tr is None:
            return unknown("transfusions not recorded", [f"transfusions within {days} days (an empty list if none)"])
        hits = [t for t in tr if 0 <= (ctx.as_of - t.date).days <= days]
        if hits:
            return met(lambda: f"transfusion on {_fmt(hits[0].date)}", ["transfusions"])
        return not_met(lambda: f"no transfusion within {days} days", ["transfusions"])

    return node


@leaf("clinical_score")
def _clinical_score(params: dict) -> Node:
    _check_keys(params, {"name", "op", "value", "in"}, {"name"})
    name = params["name"]
    if name not in ("sins", "oral_intake", "ascites", "encephalopathy"):
        raise ValueError(f"clinical score {name!r}: expected sins, oral_intake, ascites or encephalopathy")

    def node(ctx: Context) -> Outcome:
        cf = ctx.patient.clinical_findings
        v = getattr(cf, name) if cf is not None else None
        if v is None:
            return unknown(lambda: f"{name} not recorded", [f"clinical_findings.{name}"])
        if "in" in params:
            ok = v in params["in"]
            return (met if ok else not_met)(
                lambda: f"{name} {v} (required one of {', '.join(params['in'])})", [f"clinical_findings.{name}"]
            )
        ok = _op(params["op"])(v, params["value"])
        return (met if ok else not_met)(
            lambda: f"{name} {v} ({params['op']} {params['value']}: {'yes' if ok else 'no'})",
            [f"clinical_findings.{name}"],
        )

    return node
