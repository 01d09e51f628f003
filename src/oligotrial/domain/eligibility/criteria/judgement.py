"""Leaves for what software cannot decide: clinician attestations (who, when, answer) and the
registry bullets that state a preference rather than a requirement.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _attestation_text,
    _attestations,
    _fmt,
)
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Outcome,
    not_applicable,
)
from oligotrial.domain.eligibility.registry import leaf


@leaf("attested")
def _attested(arg: Any) -> Node:
    """The clinician's recorded answer to ``key`` (the latest); none recorded: unknown, asking
    the protocol's question, or with ``assume_attested`` the trial's favourable answer, marked
    assumed. An answer on the record is never overridden by the assumption."""
    key = arg if isinstance(arg, str) else arg["key"]
    # per protocol: (protocol, spec, the outcome without an attestation, the assumed outcome);
    # outcomes are immutable, so the two constant ones are built once and shared
    per_protocol: dict[int, tuple[Any, Any, Outcome, Outcome]] = {}
    missing = (f"attestation {key}",)

    def node(ctx: Context) -> Outcome:
        proto = ctx.protocol
        hit = per_protocol.get(id(proto))
        if hit is None or hit[0] is not proto:
            spec = proto.attestation_key(key)
            hit = per_protocol[id(proto)] = (
                proto,
                spec,
                Outcome(UNKNOWN, f"needs {spec.by}'s attestation: {spec.question}", (), missing),
                Outcome(
                    MET if spec.favourable else NOT_MET,
                    f"assumed attested ({key} = {str(spec.favourable).lower()})",
                    (),
                    (),
                    (key,),
                ),
            )
        a = _attestations(ctx).get(key)
        if a is None:
            # --assume-attested fills only what no one has answered: a recorded answer stands
            return hit[3] if ctx.assume_attested else hit[2]
        src = _attestation_text(ctx, a)
        return Outcome(
            MET if a.value else NOT_MET, lambda: f"{key} = {str(a.value).lower()} ({a.by}, {_fmt(a.date)})", (src,)
        )

    return node


@leaf("informational")
def _informational(text: Any) -> Node:
    """A registry bullet that states a preference or a heading, not a requirement."""
    if not isinstance(text, str) or not text:
        raise ValueError("informational: expected a sentence saying why this bullet decides nothing")

    def node(ctx: Context) -> Outcome:
        return not_applicable(text)

    return node
