"""RT-arm fixes from the review of the protocol files (OPPRESS, NCT06523673): each test quotes the
registry words it enforces (shared/seeds/000_b539856bedf10865.txt) and failed before its fix."""

from __future__ import annotations

from oligotrial.domain.radiotherapy.prescription import (
    check_prescription,
    parse_prescription,
)
from oligotrial.protocols import load_protocol
from registry_words import OPPRESS
from registry_words import quoted as quoted_in


def quoted(words: str) -> str:
    """OPPRESS's registry words (the seed of NCT06523673)."""
    return quoted_in(OPPRESS, words)


def check(arm: str, lesions: list[dict]):
    spec = load_protocol("OPPRESS").arm(arm).radiotherapy
    return check_prescription(parse_prescription({"lesions": lesions}), spec, trial="OPPRESS", arm=arm)


def test_oppress_soc_arm_accepts_palliative_radiotherapy():
    quoted("Palliative radiotherapy is acceptable.")
    report = check("soc", [{"id": "B1", "site": "bone", "dose_gy": 8, "fractions": 1, "role": "palliative"}])
    assert report.status == "pass", report.to_dict()
    # the SOC arm is not the SBRT arm: a course that is not stated palliative is refused
    sbrt = check("soc", [{"id": "B1", "dose_gy": 40, "fractions": 5, "technique": "SBRT", "role": "sabr"}])
    assert sbrt.status == "fail"


def test_oppress_sbrt_arm_counts_a_node_region_as_one_site():
    quoted("Progressive lymph node lesions are counted by region, with each lymph node region amenable to concurrent "
           "SBRT (which may contain multiple progressive lymph nodes) counted as 1 progressive site.")
    rx = [{"id": f"N{i}", "node_region": "mediastinal 4R", "dose_gy": 40, "fractions": 5, "technique": "SBRT"}
          for i in range(3)]
    rx += [{"id": f"L{i}", "dose_gy": 40, "fractions": 5, "technique": "SBRT"} for i in range(4)]
    report = check("sbrt", rx)                       # 7 lesions, 5 sites (one nodal region + 4)
    assert report.status == "pass", report.to_dict()
    rx.append({"id": "L9", "dose_gy": 40, "fractions": 5, "technique": "SBRT"})
    over = check("sbrt", rx)                         # 6 sites
    assert over.status == "fail" and any(f.code == "lesion_count_over_limit" for f in over.findings)
