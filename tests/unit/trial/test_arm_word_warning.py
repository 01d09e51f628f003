"""The arm-word warning and the free-text withholding rule, pure.

Issue 26 item 8: "The query arm-word filter lets 12 of 17 bypasses through (spacing, case,
unicode look-alikes, dose words like "8 Gy", "five fractions"); with the free-text rule of the
independent-review issue, text (query text included) is withheld from blinded roles anyway, and
the filter is a warning that catches these variants."

Issue 25 item 1: "Every free-text field ... written by a role not in the protocol's
`masking.blinded_roles` is withheld from the blinded roles ... with a visible "withheld: written
by an unblinded role" in its place."
"""

from __future__ import annotations

import pytest

from oligotrial.domain.trial import queries as dq
from oligotrial.domain.trial.blinding import WITHHELD_TEXT, withhold_text, writes_unblinded
from oligotrial.protocols import load_protocol

STOP2 = load_protocol("STOP-2")
HCC = load_protocol("NCT06592612")
TERMS = dq.arm_terms(STOP2)
HCC_TERMS = dq.arm_terms(HCC)

#: (the bypass, how it slips past a plain search); every one names an arm, its regimen or its dose
BYPASSES = [
    ("Was this the S A B R course?", "letters spaced out"),
    ("after s.a.b.r to the rib", "letters dotted out"),
    ("after s-a-b-r to the rib", "letters hyphenated"),
    ("after SaBr to the rib", "mixed case"),
    ("after ＳＡＢＲ to the rib", "full-width letters (NFKC)"),
    ("after 𝐒𝐀𝐁𝐑 to the rib", "mathematical bold letters (NFKC)"),
    ("after ЅАВR to the rib", "Cyrillic look-alikes"),
    ("after ΡΑLLΙΑΤΙVΕ care", "Greek look-alikes in an arm id"),
    ("after sa\u200bbr to the rib", "a zero-width space inside the word"),
    ("after sa\u00adbr to the rib", "a soft hyphen inside the word"),
    ("after S\u200dA\u200dB\u200dR", "zero-width joiners between letters"),
    ("after sábr to the rib", "a combining accent"),
    ("seen the day of the 8 Gy", "a dose with a space"),
    ("seen the day of the 8Gy", "a dose without a space"),
    ("eight gray given", "a dose in words"),
    ("thirty-five gray given", "a compound dose in words"),
    ("after the single fraction", "one fraction in words"),
    ("after five fractions", "a number of fractions in words"),
    ("5 x 7 Gy to the spine", "a fractionation as a product"),
    ("35 Gy in 5 to the lung", "a total dose and its fractions"),
    ("after 800 cGy", "a dose in centigray"),
    ("a 1 fx course", "fractions abbreviated"),
    ("stereotactic ablative radiotherapy given", "the experimental arm's radiotherapy, without its abbreviation"),
    ("Stereotactic Ablative Radiotherapy", "title case"),
    ("after SBRT to the rib", "a technique only the SABR arm uses"),
    ("palliative arm patient", "the control arm's id"),
    ("the Experimental Arm", "part of an arm label"),
    ("hypofractionated course", "a fractionation word"),
]

#: ordinary clinical text a data manager or a site writes: no warning
ORDINARY = [
    "Diameter 300 mm for L1 is implausible; please check the CT report.",
    "Grade 5 fatigue with no death recorded: please confirm.",
    "Date of the assessment is before consent.",
    "Ejection fraction 55 % on echo.",
    "Lesion 3 x 2 cm in segment VI.",
    "Was abrupt onset of pain; resolved in 2 days.",
    "Haemoglobin 11.8 g/dL, transfused 2 units.",
    "Seen in clinic on 2026-04-07, ECOG 1.",
    "Radiology report reviewed, no new lesions.",
]


@pytest.mark.parametrize("text,how", BYPASSES, ids=[h for _t, h in BYPASSES])
def test_the_warning_catches_each_bypass(text, how):
    assert dq.arm_words(text, TERMS), f"{how}: {text!r} not caught"
    msg = dq.arm_warning(text, TERMS)
    assert msg and "withheld: written by an unblinded role" in msg


def test_at_least_17_bypasses_and_the_old_search_missed_most_of_them():
    assert len(BYPASSES) >= 17
    # the old search (arm_mentions: plain lower-case words, phrases, digits before Gy) missed these:
    missed = [t for t, _ in BYPASSES if not dq.arm_mentions(t, TERMS)]
    assert len(missed) >= 12, missed


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_clinical_text_is_not_flagged(text):
    assert dq.arm_words(text, TERMS) == [] and dq.arm_warning(text, TERMS) is None


def test_hcc_opd_masks_its_outcome_assessor_and_radiotherapy_itself_tells_the_arm():
    # NCT06592612: "SBRT Arm" vs "Control Arm" (no radiotherapy): a dose names the SBRT arm
    for text in ("after S B R T", "control arm", "after 40 Gy", "five fractions given"):
        assert dq.arm_words(text, HCC_TERMS), text
    assert dq.arm_words("Lenvatinib started on 2026-04-02.", HCC_TERMS) == []


def test_an_open_label_trial_warns_about_nothing():
    assert dq.arm_terms(load_protocol("NCT05906329")) is None
    assert dq.arm_words("after SABR 8 Gy", None) == [] and dq.arm_warning("after SABR", None) is None


def test_normalize_text():
    assert dq.normalize_text("S A B R") == "sabr"
    assert dq.normalize_text("ＳＡ\u200bＢＲ") == "sabr"
    assert dq.normalize_text("ЅАВR, 8Gy") == "sabr 8gy"


# ---- who is withheld from whom ------------------------------------------------------------------

def test_a_writer_outside_the_blinded_roles_is_unblinded():
    blinded = STOP2.masking.blinded_roles  # enrolling_oncologist, statistician, outcome_assessor
    assert writes_unblinded(blinded, "coordinator") and writes_unblinded(blinded, "data_manager")
    assert writes_unblinded(blinded, "treating_oncologist") and writes_unblinded(blinded, None)  # unknown: withheld
    assert not writes_unblinded(blinded, "enrolling_oncologist") and not writes_unblinded(blinded, "outcome_assessor")
    assert not writes_unblinded([], "coordinator")  # "Trials without masking (open-label) withhold nothing"
    assert writes_unblinded(HCC.masking.blinded_roles, "statistician")  # HCC blinds the outcome assessor only


def test_withhold_text_replaces_free_text_at_any_depth_and_keeps_the_rest():
    data = {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": "after the SABR fraction",
            "specify": "", "override": {"reason": "8 Gy", "by": "c"}, "lists": [{"detail": "SBRT"}]}
    out, paths = withhold_text(data)
    assert out == {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": WITHHELD_TEXT, "specify": "",
                   "override": {"reason": WITHHELD_TEXT, "by": "c"}, "lists": [{"detail": WITHHELD_TEXT}]}
    assert paths == ["note", "override.reason", "lists[0].detail"]
    assert data["note"] == "after the SABR fraction"  # the input is not changed
    out, paths = withhold_text(data, released={"note"})
    assert out["note"] == "after the SABR fraction" and "note" not in paths
    assert WITHHELD_TEXT == "withheld: written by an unblinded role"
