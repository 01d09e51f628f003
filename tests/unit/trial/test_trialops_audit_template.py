"""An audit entry that names a slot number known only when the slot is claimed: its canonical
text is a template the storage adapter fills in the same statement (domain.trial.audit)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oligotrial.domain.trial.audit import canonical, canonical_template, entry_hash, fill_marker, link_hash

MARKER = "5eed5eed5eed5eed5eed5eed5eed5eed"
PAYLOAD = {"at": "2026-03-02T10:00:00+00:00", "actor": "coord", "role": "coordinator", "trial": "NCT06918951",
           "action": "participant.randomize", "entity_type": "participant", "entity_id": "P-1", "old": None,
           "new": {"state": "randomized", "from_state": "enrolled", "stratum": "all",
                   "randomization_number": f"all#{MARKER}", "strata": {"site": "ü-ñ"}}, "reason": None}


@given(k=st.integers(1, 10**9), n=st.integers(1, 10**12))
def test_the_template_filled_is_the_canonical_text_of_the_filled_entry(k, n):
    head, mid, after = canonical_template(PAYLOAD, MARKER)
    filled = fill_marker(PAYLOAD, MARKER, k)
    assert canonical({**filled, "seq": n}) == head + str(k) + mid + str(n) + after
    assert filled["new"]["randomization_number"] == f"all#{k}"
    assert link_hash("ab" * 32, n, head + str(k) + mid, after) == entry_hash("ab" * 32, {**filled, "seq": n})


def test_a_marker_missing_or_repeated_is_refused():
    with pytest.raises(ValueError, match="exactly once, found it 0"):
        canonical_template({**PAYLOAD, "new": {"randomization_number": "all#1"}}, MARKER)
    with pytest.raises(ValueError, match="exactly once, found it 2"):
        canonical_template({**PAYLOAD, "reason": MARKER}, MARKER)


def test_fill_marker_leaves_other_values_alone():
    assert fill_marker({"a": [1, None, True, f"x{MARKER}"], "b": 2.5}, MARKER, 7) == {"a": [1, None, True, "x7"],
                                                                                     "b": 2.5}
