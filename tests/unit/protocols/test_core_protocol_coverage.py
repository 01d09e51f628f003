"""Every criterion bullet of every seed registration maps to one or more protocol criteria, and
every criterion quotes the registry text it comes from (nothing silently dropped or invented)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oligotrial.protocols import list_protocols

DATA = Path(__file__).parents[2] / "data" / "seeds"
SHARED = Path(__file__).parents[3].parent / "shared" / "seeds"

# (start marker, end marker) of the eligibility section in each seed's layout
SECTIONS = {
    "000_b539856bedf10865.txt": ("Inclusion Criteria\n", "Minimum Eligible Age"),
    "001_ab9ba1188b9ed105.txt": ("View:", "Locations"),
    "002_04f502fd2d1a9b0e.txt": ("Inclusion Criteria:", "Gender:"),
    "003_e100751488679964.txt": ("Inclusion Criteria:", "Gender:"),
    "004_1a85a1e1afd5534b.txt": ("Inclusion Criteria\n", "Minimum Eligible Age"),
}
BULLET = re.compile(r"^\s*(\*|•|⁃|\d+\.|[a-z]\.)\s+")
HEADERS = re.compile(r"^\s*(Inclusion Criteria:?|Exclusion Criteria:?|-|Criteria:)\s*$")


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\", "")).strip()


def bullets(seed: str) -> list[str]:
    text = (DATA / seed).read_text(encoding="utf-8")
    start, end = SECTIONS[seed]
    section = text[text.index(start) + len(start): text.index(end, text.index(start))]
    items: list[list[str]] = []
    current: list[str] | None = None
    for line in section.splitlines():
        if HEADERS.match(line) or not line.strip():
            current = None if HEADERS.match(line) else current
            continue
        m = BULLET.match(line)
        if m:
            current = [line[m.end():]]
            items.append(current)
        elif current is not None:
            current.append(line)
    return [norm(" ".join(i)) for i in items if len(norm(" ".join(i)).split()) >= 2]


def by_seed():
    return {p.registry.seed_file: p for p in list_protocols()}


def test_local_seed_copies_are_verbatim():
    if not SHARED.exists():
        pytest.skip("../shared/seeds is not beside this checkout; the copies in tests/data are used")
    for f in SECTIONS:
        assert (DATA / f).read_bytes() == (SHARED / f).read_bytes(), f


def test_every_seed_has_one_protocol():
    assert sorted(by_seed()) == sorted(SECTIONS)


@pytest.mark.parametrize("seed", sorted(SECTIONS))
def test_every_bullet_maps_to_criteria(seed):
    protocol = by_seed()[seed]
    joined = norm(" ".join(c.source_text for c in protocol.criteria))
    found = bullets(seed)
    assert len(found) >= 7, found
    missing = [b for b in found if b not in joined]
    assert not missing, f"{protocol.id}: bullets with no criterion: {missing}"


@pytest.mark.parametrize("seed", sorted(SECTIONS))
def test_every_criterion_quotes_its_registry_text(seed):
    protocol = by_seed()[seed]
    text = norm(re.sub(r"(?m)^\s*(\*|•|⁃|\d+\.|[a-z]\.)\s+", "", (DATA / seed).read_text(encoding="utf-8")))
    for c in protocol.criteria:
        assert norm(c.source_text) in text, f"{c.id} does not quote {seed}: {c.source_text[:80]}"


def test_bullet_counts_are_what_the_registries_show():
    counts = {seed: len(bullets(seed)) for seed in SECTIONS}
    assert counts["000_b539856bedf10865.txt"] == 19        # 12 inclusion + 7 exclusion
    assert counts["003_e100751488679964.txt"] == 23        # 8 inclusion + 15 exclusion
    assert counts["002_04f502fd2d1a9b0e.txt"] == 20        # 11 inclusion + 9 exclusion


def test_stratification_is_never_invented():
    for p in list_protocols():
        assert p.stratification.registry_names_none and not p.stratification.factors


def test_stop2_masking_blinds_enrolling_oncologists_and_statistician():
    stop2 = next(p for p in list_protocols() if p.short_name == "STOP-2")
    assert stop2.masking.level == "triple"
    # outcome_assessor: the registry's masked parties include "Outcome Assessors" (issue 17)
    assert set(stop2.masking.blinded_roles) == {"enrolling_oncologist", "statistician", "outcome_assessor"}


def test_windows_are_explicit_days_with_their_text():
    for p in list_protocols():
        for name, w in p.windows.items():
            assert (w.days or w.min_days or w.max_days or w.months or w.min_months or w.max_months), name
            assert norm(w.source_text), name
