"""Prescriptions against trial arms: the protocol-validator vectors of radiotherapy-dose.md §2."""

from __future__ import annotations

import pytest

from oligotrial.adapters.io.rt_data import load_reference_schedules
from oligotrial.domain.protocol.rt_schema import RadiotherapySpec, Range, Regimen
from oligotrial.domain.radiotherapy.prescription import check_prescription, parse_prescription
from oligotrial.errors import DoseError
from oligotrial.protocols import load_protocol

# Arms built here from the registry text (independent of the shipped protocol files).
OPPRESS_SBRT = RadiotherapySpec(
    name="SBRT", targets="all_progressive_sites", max_lesions=5,
    source_text="27-30 Gy/3 Fractions or 30-50 Gy/5 Fractions ... 27-70 Gy/3-10 Fractions",
    regimens=[
        Regimen(label="SBRT-3", total_dose_gy=Range(min=27, max=30), fractions=Range(min=3, max=3),
                techniques=["SBRT"], typical=True, source_text="27-30 Gy/3 Fractions"),
        Regimen(label="SBRT-5", total_dose_gy=Range(min=30, max=50), fractions=Range(min=5, max=5),
                techniques=["SBRT"], typical=True, source_text="30-50 Gy/5 Fractions"),
        Regimen(label="SBRT-OAR", total_dose_gy=Range(min=27, max=70), fractions=Range(min=3, max=10),
                techniques=["SBRT"], source_text="27-70 Gy/3-10 Fractions"),
    ])
FL002 = RadiotherapySpec(
    name="LDRT + conventional", targets="conventional_plus_low_dose", max_lesions=11,
    observation_lesions_min=1, source_text="at least one ... observation lesion",
    regimens=[
        Regimen(label="conventional", total_dose_gy=Range(min=40, max=60), fractions=Range(min=20, max=34),
                dose_per_fraction_gy=Range(min=1.8, max=2.0), role="conventional",
                lesions=Range(min=1, max=1), source_text="1.8-2Gy/f, 40Gy-60Gy"),
        Regimen(label="low dose", total_dose_gy=Range(min=6.4, max=9.6), fractions=Range(min=4, max=6),
                dose_per_fraction_gy=Range(min=1.6, max=1.6), fractions_per_week=Range(min=1, max=1),
                techniques=["LDRT"], role="low_dose", lesions=Range(min=0, max=10),
                source_text="1.6Gy/f, 1f/w, 4-6 times"),
    ])
STOP2_CONTROL = RadiotherapySpec(
    name="Palliative", targets="all_progressive_sites", max_lesions=5, source_text="8 Gy in 1 fraction",
    regimens=[Regimen(label="8 Gy/1", total_dose_gy=Range(min=8, max=8), fractions=Range(min=1, max=1),
                      source_text="8 Gy in 1 fraction")])
STOP2_SABR = RadiotherapySpec(
    name="SABR", targets="all_progressive_sites", max_lesions=5, source_text="SABR to all sites",
    regimens=[Regimen(label="SABR", total_dose_gy=Range(min=16, max=60), fractions=Range(min=1, max=8),
                      techniques=["SABR", "SBRT"], source_text="SABR")])


def rx(*lesions, observation=(), prior=()):
    return parse_prescription({"lesions": list(lesions), "observation_lesions": list(observation),
                               "prior_courses": list(prior)})


def les(i, dose, fx, technique="SBRT", **kw):
    return {"id": f"L{i}", "dose_gy": dose, "fractions": fx, "technique": technique, **kw}


VALID = [
    pytest.param(OPPRESS_SBRT, les(1, 35, 5), "SBRT-5", id="valid-35Gy_5fx-SBRT5"),
    pytest.param(OPPRESS_SBRT, les(1, 27, 3), "SBRT-3", id="valid-27Gy_3fx-SBRT3"),
    pytest.param(OPPRESS_SBRT, les(1, 30, 3), "SBRT-3", id="valid-30Gy_3fx-SBRT3"),
    pytest.param(OPPRESS_SBRT, les(1, 60, 8), "SBRT-OAR", id="valid-60Gy_8fx-27to70_3to10"),
    pytest.param(STOP2_CONTROL, les(1, 8, 1, "conventional"), "8 Gy/1", id="valid-8Gy_1fx-control-arm"),
]


@pytest.mark.parametrize("spec, lesion, regimen", VALID)
def test_rt_validator_valid(spec, lesion, regimen):
    report = check_prescription(rx(lesion), spec, trial="T", arm="A")
    assert report.status == "pass", report.to_dict()
    assert report.lesions[0].regimen == regimen


@pytest.mark.parametrize("dose, fx", [(50, 25), (54, 30)], ids=["valid-50Gy_25fx-conventional",
                                                                 "valid-54Gy_30fx-conventional"])
def test_rt_validator_valid_conventional(dose, fx):
    report = check_prescription(
        rx(les(1, dose, fx, "conventional", role="conventional"),
           les(2, 8.0, 5, "LDRT", fractions_per_week=1), observation=[{"id": "L9"}]),
        FL002, trial="NCT05906329", arm="ldrt_crt")
    assert report.status == "pass", report.to_dict()
    assert [v.regimen for v in report.lesions] == ["conventional", "low dose"]


INVALID = [
    pytest.param(OPPRESS_SBRT, les(1, 24, 3), "dose_out_of_range", id="invalid-24Gy_3fx-below-27"),
    pytest.param(OPPRESS_SBRT, les(1, 75, 10), "dose_out_of_range", id="invalid-75Gy_10fx-above-70"),
    pytest.param(OPPRESS_SBRT, les(1, 60, 12), "fractions_out_of_range", id="invalid-60Gy_12fx-over-10fx"),
    pytest.param(STOP2_SABR, les(1, 8, 1, "SABR"), "dose_out_of_range", id="invalid-8Gy_1fx-on-SABR-arm"),
    pytest.param(STOP2_SABR, les(1, 8, 1, "conventional"), "wrong_technique",
                 id="invalid-8Gy_1fx-conventional-on-SABR-arm"),
    pytest.param(OPPRESS_SBRT, les(1, 30, 3, "IMRT"), "wrong_technique", id="invalid-wrong-technique"),
]


@pytest.mark.parametrize("spec, lesion, code", INVALID)
def test_rt_validator_invalid(spec, lesion, code):
    report = check_prescription(rx(lesion), spec, trial="T", arm="A")
    assert report.status == "fail"
    codes = {r.code for r in report.lesions[0].reasons}
    assert code in codes, report.to_dict()
    assert all(r.message for r in report.lesions[0].reasons)


def test_rt_validator_invalid_ldrt_seven_weekly_sessions():
    report = check_prescription(
        rx(les(1, 50, 25, "conventional"), les(2, 1.6 * 7, 7, "LDRT", fractions_per_week=1),
           observation=[{"id": "L9"}]), FL002, trial="NCT05906329", arm="ldrt_crt")
    assert report.status == "fail"
    v = report.lesions[1]
    assert v.regimen == "low dose"
    assert "fractions_out_of_range" in {r.code for r in v.reasons}
    assert "7 is above the allowed 4-6" in " ".join(r.message for r in v.reasons)


def test_rt_ldrt_arm_level_rules():
    # two conventional courses, no observation lesion, eleven low-dose lesions
    lesions = [les(1, 50, 25, "conventional", role="conventional"),
               les(2, 60, 30, "conventional", role="conventional")]
    lesions += [les(10 + i, 8.0, 5, "LDRT", fractions_per_week=1) for i in range(11)]
    report = check_prescription(rx(*lesions), FL002, trial="NCT05906329", arm="ldrt_crt")
    codes = [f.code for f in report.findings]
    assert codes.count("regimen_lesion_count") == 2  # conventional 2 (needs 1), low dose 11 (max 10)
    assert "lesion_count_over_limit" in codes  # 13 > 11
    assert "observation_lesion_missing" in codes
    assert report.status == "fail"


def test_rt_observation_lesion_must_be_measurable_and_untreated():
    lesions = [les(1, 50, 25, "conventional"), les(2, 8.0, 5, "LDRT", fractions_per_week=1)]
    r1 = check_prescription(rx(*lesions, observation=[{"id": "L9", "measurable": False}]), FL002,
                            trial="T", arm="A")
    assert "observation_lesion_missing" in {f.code for f in r1.findings}
    r2 = check_prescription(rx(*lesions, observation=[{"id": "L2"}]), FL002, trial="T", arm="A")
    assert "observation_lesion_treated" in {f.code for f in r2.findings}


def test_rt_missing_fractions_per_week_is_not_evaluable():
    report = check_prescription(rx(les(1, 50, 25, "conventional"), les(2, 8.0, 5, "LDRT"),
                                   observation=[{"id": "L9"}]), FL002, trial="T", arm="A")
    assert report.lesions[1].status == "not_evaluable"
    assert report.status == "not_evaluable"


def test_rt_lesion_count_over_arm_limit():
    report = check_prescription(rx(*[les(i, 30, 3) for i in range(6)]), OPPRESS_SBRT, trial="T", arm="A")
    assert [f.code for f in report.findings] == ["lesion_count_over_limit"]


def test_rt_arm_without_radiotherapy():
    report = check_prescription(rx(les(1, 30, 3)), None, trial="NCT06523673", arm="soc")
    assert report.status == "fail" and report.findings[0].code == "arm_gives_no_radiotherapy"


def test_rt_bed_and_reference_schedule_matches():
    ref = load_reference_schedules()["schedules"]
    report = check_prescription(rx(les(1, 54, 3, site="lung"), les(2, 30, 3, site="vertebra"),
                                   les(3, 50, 5, site="adrenal")), STOP2_SABR, trial="T", arm="A",
                                reference=ref)
    v1, v2, v3 = report.lesions
    assert v1.bed10_gy == pytest.approx(151.2) and v1.eqd2_10_gy == pytest.approx(126.0)
    assert v1.reference_matches == ["sabr_comet:lung_peripheral"]
    assert set(v2.reference_matches) == {"sabr_comet:vertebra_3fx", "sabr_comet_10:30gy_3fx"}
    assert v3.reference_matches == []  # 50/5 is no SABR-COMET adrenal schedule (60/8)


def test_rt_stop2_reirradiation_documentation():
    prior = {"region": "T10 vertebra", "dose_gy": 20, "fractions": 5, "recovery_fraction": 0.5,
             "recovery_rationale": "Nieder 2006"}
    report = check_prescription(rx(les(1, 30, 3, "SABR"), prior=[prior]), STOP2_SABR, trial="T", arm="A")
    codes = {f.code: f for f in report.findings}
    assert codes["reirradiation_composite_required"].status == "not_evaluable"
    assert "approved_by" in codes["reirradiation_documentation_missing"].message
    assert report.status == "fail"
    documented = dict(prior, end_date="2023-01-10", approved_by="Dr PI", approved_on="2024-02-01")
    ok = check_prescription(rx(les(1, 30, 3, "SABR"), prior=[documented]), STOP2_SABR, trial="T", arm="A")
    assert {f.code for f in ok.findings} == {"reirradiation_composite_required"}
    assert ok.status == "not_evaluable"


@pytest.mark.parametrize("lesion, field", [
    (les(1, 30, 0), "lesions[0].fractions"), (les(1, -5, 3), "lesions[0].dose_gy"),
    (les(1, 0, 3), "lesions[0].dose_gy"), (les(1, 30, 3, fractions_per_week=0), "lesions[0].fractions_per_week"),
])
def test_rt_prescription_bad_input(lesion, field):
    with pytest.raises(DoseError) as err:
        rx(lesion)
    assert err.value.field == field and "expected" in err.value.message


def test_rt_prescription_shape_errors():
    with pytest.raises(DoseError, match="lesions"):
        parse_prescription({"lesions": []})
    with pytest.raises(DoseError, match="each lesion once"):
        parse_prescription({"lesions": [les(1, 30, 3), les(1, 30, 3)]})
    with pytest.raises(DoseError, match="JSON object"):
        parse_prescription([1, 2])


# ---- the shipped protocol files ----------------------------------------------------------------
def _arm(trial, arm):
    return next(a for a in load_protocol(trial).arms if a.id == arm).radiotherapy


@pytest.mark.parametrize("trial, arm, lesion, expected", [
    ("NCT06523673", "sbrt", les(1, 35, 5), "pass"),
    ("NCT06523673", "sbrt", les(1, 60, 8), "pass"),
    ("NCT06523673", "sbrt", les(1, 24, 3), "fail"),
    ("NCT06523673", "sbrt", les(1, 75, 10), "fail"),
    ("NCT06523673", "sbrt", les(1, 60, 12), "fail"),
    ("STOP-2", "palliative", les(1, 8, 1, "conventional"), "pass"),
    ("STOP-2", "sabr", les(1, 8, 1, "SABR"), "fail"),
    ("STOP-2", "sabr", les(1, 35, 5, "SABR"), "pass"),
])
def test_rt_shipped_protocols(trial, arm, lesion, expected):
    assert check_prescription(rx(lesion), _arm(trial, arm), trial=trial, arm=arm).status == expected


def test_rt_shipped_ldrt_protocol():
    spec = _arm("NCT05906329", "ldrt_crt")
    good = rx(les(1, 54, 30, "conventional"), les(2, 1.6 * 6, 6, "LDRT", fractions_per_week=1),
              observation=[{"id": "L9"}])
    assert check_prescription(good, spec, trial="NCT05906329", arm="ldrt_crt").status == "pass"
    bad = rx(les(1, 54, 30, "conventional"), les(2, 1.6 * 7, 7, "LDRT", fractions_per_week=1))
    report = check_prescription(bad, spec, trial="NCT05906329", arm="ldrt_crt")
    assert report.status == "fail"
    assert "observation_lesion_missing" in {f.code for f in report.findings}
