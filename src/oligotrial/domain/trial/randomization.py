"""Randomization algorithms, pure: stratified permuted blocks and Pocock–Simon minimization.

Randomness is always an injected :class:`numpy.random.Generator`; nothing here touches storage.

References
----------
Permuted blocks with random block lengths: Rosenberger WF, Lachin JM. *Randomization in
Clinical Trials*, 2nd ed., Wiley 2016, ch. 3 (``randomizeR::rpbrPar``).
Minimization: Pocock SJ, Simon R. Sequential treatment assignment with balancing for
prognostic factors in the controlled clinical trial. *Biometrics* 1975;31:103–115 (range
imbalance, biased-coin random element).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from oligotrial.errors import RandomizationError

METHODS = ("permuted_blocks", "minimization")
ALL_STRATUM = "all"


@dataclass(frozen=True)
class Slot:
    """One pre-generated position of a list: ``payload`` is an arm id (blocks) or the
    pre-drawn random numbers of a minimization step (``"u1,u2"``)."""

    stratum: str
    seq: int
    block: int
    block_size: int
    payload: str


def arm_unit(ratio: Mapping[str, int]) -> list[str]:
    """The smallest block for an allocation ratio, arms in sorted order (``{a:2,b:1}`` -> a,a,b)."""
    if not ratio:
        raise RandomizationError("allocation_ratio: expected at least one arm", field="allocation_ratio")
    for arm, n in ratio.items():
        if not isinstance(n, int) or n < 1:
            raise RandomizationError(
                f"allocation_ratio[{arm}] = {n!r}: expected an integer >= 1", field="allocation_ratio"
            )
    return [arm for arm in sorted(ratio) for _ in range(ratio[arm])]


def stratum_key(factors: Sequence[tuple[str, Sequence[str]]], strata: Mapping[str, str]) -> str:
    """The key of one stratum (``factor=level|factor=level``), checking every factor is given
    exactly once with a level the protocol names."""
    if not factors:
        if strata:
            raise RandomizationError(
                f"strata {sorted(strata)}: this trial is not stratified; expected none", field="strata"
            )
        return ALL_STRATUM
    names = [f for f, _ in factors]
    unknown = sorted(set(strata) - set(names))
    if unknown:
        raise RandomizationError(
            f"strata.{unknown[0]}: unknown factor; expected one of {names}", field=f"strata.{unknown[0]}"
        )
    parts = []
    for fid, levels in factors:
        if fid not in strata:
            raise RandomizationError(f"strata.{fid}: missing; expected one of {list(levels)}", field=f"strata.{fid}")
        if strata[fid] not in levels:
            raise RandomizationError(
                f"strata.{fid} = {strata[fid]!r}: expected one of {list(levels)}", field=f"strata.{fid}"
            )
        parts.append(f"{fid}={strata[fid]}")
    return "|".join(parts)


def all_strata(factors: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Every stratum key of a design (the Cartesian product of factor levels)."""
    if not factors:
        return [ALL_STRATUM]
    ids = [f for f, _ in factors]
    return [
        stratum_key(factors, dict(zip(ids, combo, strict=True)))
        for combo in itertools.product(*[levels for _, levels in factors])
    ]


def permuted_blocks(
    stratum: str,
    ratio: Mapping[str, int],
    n_min: int,
    rng: np.random.Generator,
    block_multiples: Sequence[int] = (1, 2, 3),
) -> list[Slot]:
    """Complete permuted blocks, each of a random size ``m * sum(ratio)`` (``m`` drawn uniformly
    from ``block_multiples``), until at least ``n_min`` slots exist. Each block holds every arm
    exactly ``m * ratio[arm]`` times, so any prefix that ends a block is exactly balanced."""
    unit = arm_unit(ratio)
    if n_min < 1:
        raise RandomizationError(f"size {n_min}: expected at least 1 slot per stratum", field="size")
    if not block_multiples or any(m < 1 for m in block_multiples):
        raise RandomizationError(
            f"block_multiples {list(block_multiples)}: expected positive integers", field="block_multiples"
        )
    slots: list[Slot] = []
    block = 0
    while len(slots) < n_min:
        block += 1
        m = int(rng.choice(np.asarray(block_multiples)))
        arms = unit * m
        order = rng.permutation(len(arms))
        for i in order:
            slots.append(Slot(stratum, len(slots) + 1, block, len(arms), arms[int(i)]))
    return slots


def minimization_draws(n: int, rng: np.random.Generator) -> list[Slot]:
    """Pre-drawn random numbers for ``n`` minimization steps (two uniforms each: the biased
    coin and the tie-break), so the random element is fixed and committed in advance."""
    if n < 1:
        raise RandomizationError(f"size {n}: expected at least 1", field="size")
    u = rng.random((n, 2))
    return [Slot(ALL_STRATUM, i + 1, 0, 0, f"{a:.12f},{b:.12f}") for i, (a, b) in enumerate(u)]


def _weighted_pick(arms: Sequence[str], ratio: Mapping[str, int], u: float) -> str:
    total = sum(ratio[a] for a in arms)
    acc = 0.0
    for a in arms:
        acc += ratio[a] / total
        if u < acc:
            return a
    return arms[-1]


def minimization_assign(
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
    participant: Mapping[str, str],
    ratio: Mapping[str, int],
    draws: str,
    p_best: float = 0.8,
) -> str:
    """Pocock–Simon assignment: for each candidate arm, the sum over factors of the range of
    ratio-weighted counts at the participant's levels if they joined that arm; the arm with
    the smallest total is chosen with probability ``p_best`` (otherwise another arm, weighted
    by the ratio); ties are broken at random in proportion to the ratio.

    ``counts[factor][level][arm]`` are previous allocations; ``draws`` is ``"u1,u2"``.
    """
    if not 0.5 <= p_best <= 1.0:
        raise RandomizationError(f"p_best {p_best}: expected 0.5..1", field="p_best")
    u1, u2 = (float(x) for x in draws.split(","))
    arms = sorted(ratio)
    score: dict[str, float] = {}
    for cand in arms:
        total = 0.0
        for factor, level in participant.items():
            by_arm = counts.get(factor, {}).get(level, {})
            adj = [(by_arm.get(a, 0) + (1 if a == cand else 0)) / ratio[a] for a in arms]
            total += max(adj) - min(adj)
        score[cand] = total
    best_score = min(score.values())
    best = [a for a in arms if score[a] == best_score]
    if len(best) == len(arms):
        return _weighted_pick(arms, ratio, u2)
    if u1 < p_best:
        return _weighted_pick(best, ratio, u2)
    others = [a for a in arms if a not in best]
    return _weighted_pick(others, ratio, u2)


#: the commitment scheme of a list with a secret salt (the params key ``commitment_scheme``)
SALTED_SCHEME = "hmac-sha256-salted/2"
#: params that are not part of the committed document (where the salt is kept, encrypted)
UNCOMMITTED_PARAMS = ("salt_ct",)


def commitment(
    trial: str, method: str, seed: int, params: Mapping, slots: Sequence[Slot], salt: bytes | None = None
) -> str:
    """The list's commitment: a digest of a canonical JSON of the whole list (trial, method,
    seed, parameters and every slot in order).

    With ``salt`` (32 secret random bytes, every list generated since issue 26) it is
    HMAC-SHA256 keyed by the salt: binding (another list cannot be found with the same digest)
    and hiding (without the salt, nobody can test a guessed seed or list against it, so a
    published commitment is no oracle). The salt is revealed with the list at unblinding, when
    anyone can recompute it. This is the standard hash commitment ``C = H(r, m)`` with a random
    opening value ``r`` (Halevi S, Micali S. Practical and provably-secure commitment schemes
    from collision-free hashing. CRYPTO 1996, LNCS 1109:201-215; NIST SP 800-107r1 on
    HMAC-SHA256). Without ``salt``: plain SHA-256, the scheme of lists generated before, which
    anyone holding a guessed seed can test (kept to verify those lists).
    """
    doc = {
        "trial": trial,
        "method": method,
        "seed": seed,
        "params": {k: v for k, v in dict(params).items() if k not in UNCOMMITTED_PARAMS},
        "slots": [
            [s.stratum, s.seq, s.block, s.block_size, s.payload]
            for s in sorted(slots, key=lambda s: (s.stratum, s.seq))
        ],
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    if salt is None:
        return hashlib.sha256(blob).hexdigest()
    if len(salt) < 32:
        raise RandomizationError(f"salt: {len(salt)} bytes; expected at least 32 random bytes", field="salt")
    return hmac.new(salt, blob, hashlib.sha256).hexdigest()
