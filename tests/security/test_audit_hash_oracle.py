"""Attack: the audit trail as a hash oracle for the blind (issue 19 item 1).

The probe that filed issue 19 read, as STOP-2's blinded statistician, each withheld
radiotherapy entry's SHA-256 hash from the audit trail and hashed the few plausible courses
until one matched: the dose and fractionation, and so the arm, in 26 of 26 entries within 104
guesses. Here the attacker is stronger than that: for every withheld entry it knows every field
but the course exactly (from the database), hashes every plausible course of either arm (each
STOP-2 regimen's dose range in 0.5 Gy steps, 1-10 fractions, every technique) -- the true course
among them -- with SHA-256 and other unkeyed digests over every encoding the chain has used,
chained on every hash it saw, and looks for any of them in everything a blinded role can get
(every GET route of the API, as each blinded role). Nothing may match.
"""

from __future__ import annotations

import hashlib
import re
from itertools import product

import pytest

from hostile_app import BASE, RT_FOR_ARM, TRIAL, app_on
from oligotrial.domain.trial.audit import GENESIS, canonical, content, link_v2
from oligotrial.protocols import load_protocol
from oligotrial.service.audit import ARM_REVEALING

STOP2 = load_protocol("STOP-2")
BLINDED = list(STOP2.masking.blinded_roles)
TECHNIQUES = ("conventional", "3DCRT", "IMRT", "VMAT", "SABR", "SBRT", "SRS")
#: an off-arm course recorded with a documented override, per arm (the deviation path)
OFF_ARM = {"palliative": {"dose_gy": 20, "fractions": 5, "technique": "conventional"},
           "sabr": {"dose_gy": 8, "fractions": 1, "technique": "SABR"}}
HEX = re.compile(r"[0-9a-fA-F]{32,128}")
DIGESTS = ("sha256", "sha1", "md5", "sha512", "blake2b", "blake2s", "sha3_256")


def _plausible_courses() -> list[tuple[float, int, str]]:
    """Every course the protocol allows for either arm, on a 0.5 Gy grid, with 1-10 fractions."""
    doses = set()
    for arm in STOP2.arms:
        for reg in arm.radiotherapy.regimens:
            lo, hi = reg.total_dose_gy.min, reg.total_dose_gy.max
            doses.update(lo + 0.5 * k for k in range(int((hi - lo) / 0.5) + 1))
    doses.update({20.0, 30.0})  # common palliative alternatives
    return [(d, f, t) for d, f, t in product(sorted(doses), range(1, 11), TECHNIQUES)]


def _digests(text: str) -> list[str]:
    data = text.encode()
    return [hashlib.new(name, data).hexdigest() for name in DIGESTS]


def _guesses(entry: dict, prevs: set[str]) -> set[str]:
    """Every unkeyed digest of every plausible variant of a withheld entry."""
    true_new = entry["new"]
    out: set[str] = set()
    variants = [true_new] + [{**true_new, "dose_gy": float(d), "fractions": f, "technique": t}
                             for d, f, t in _plausible_courses()]
    for new in variants:
        payload = {**entry, "new": new}
        canon, cont = canonical(payload), content(payload)
        out.add(hashlib.sha256((entry["prev_hash"] + canon).encode()).hexdigest())  # the v1 link, as stored
        for prev in prevs:
            out.add(hashlib.sha256((prev + canon).encode()).hexdigest())
        for text in (canon, cont, _json(new), _json(new, sort=True)):
            out.update(_digests(text))
        # the keyed link, were its digest an unkeyed SHA-256 of the content
        out.add(link_v2(entry["prev_hash"], entry["seq"], hashlib.sha256(cont.encode()).hexdigest(), entry.get("bind")))
    return out


def _json(value, sort=False) -> str:
    import json

    return json.dumps(value, sort_keys=sort, separators=(",", ":"))


def _get_paths(routes, prefix: str = "") -> list[str]:
    """The path of every GET route, sub-applications and routers mounted under a prefix included."""
    out = []
    for r in routes:
        included = getattr(r, "original_router", None)  # FastAPI's included router
        if included is not None:
            out.extend(_get_paths(included.routes, prefix))
            continue
        if "GET" in (getattr(r, "methods", None) or set()):
            out.append(prefix + r.path)
        sub = getattr(r, "routes", None) or getattr(getattr(r, "app", None), "routes", None)
        if sub is not None and not getattr(r, "methods", None):
            out.extend(_get_paths(sub, prefix + r.path))
    return out


def _everything_a_blinded_role_gets(api, pids: list[str]) -> list[str]:
    """The body of every GET route of the app, as each blinded role, for every participant."""
    bodies = []
    fills = {"trial": [TRIAL], "pid": pids, "dataset": ["adtte", "adrs"]}
    for role in BLINDED:
        for route_path in _get_paths(api.client.app.routes):
            names = re.findall(r"{(\w+)(?::\w+)?}", route_path)
            if any(n not in fills for n in names):
                continue
            for values in product(*(fills[n] for n in names)):
                path = route_path
                for n, v in zip(names, values, strict=True):
                    path = re.sub(r"{" + n + r"(?::\w+)?}", v, path)
                for query in ("", "?limit=1000") if path.endswith("/audit") else ("",):
                    r = api.call("GET", path + query, role)
                    bodies.append(r.text)
    return bodies


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_withheld_course_can_be_confirmed_from_anything_a_blinded_role_receives(backend, tmp_path):
    with app_on(backend, tmp_path, audit_key_dir=str(tmp_path / "keys")) as api:
        pids = []
        for n in range(6):
            pid = api.enrolled(n + 1)
            r = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={})
            assert r.status_code == 200, r.text
            arm = r.json()["arm"]
            given = OFF_ARM[arm] if n % 3 == 2 else RT_FOR_ARM[arm]
            course = {"start": "2026-03-10", "end": "2026-03-14" if given["fractions"] > 1 else "2026-03-10", **given}
            if n % 3 == 2:  # a deviation, documented: the override's reason names the course
                course["override"] = {"reason": f"PI approved {course['dose_gy']} Gy in {course['fractions']} "
                                                "fractions for cord compression"}
            r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist", json=course)
            assert r.status_code == 200, r.text
            pids.append(pid)
        with api.container.ctx.uow() as uow:
            entries = uow.audit.audit_entries(STOP2.id)
        withheld = [e for e in entries if e["action"] in ARM_REVEALING]
        assert len(withheld) == 6

        bodies = _everything_a_blinded_role_gets(api, pids)
        received = {h.lower() for body in bodies for h in HEX.findall(body)}
        # the trail itself was among them, with the withheld entries in it
        assert any(f'"seq":{withheld[0]["seq"]},' in b.replace(" ", "") for b in bodies)
        prevs = {GENESIS, *received}
        for e in withheld:
            hits = _guesses(e, prevs) & received
            assert not hits, f"entry {e['seq']}: a blinded role can confirm the course from {sorted(hits)[:2]}"
            # nor is anything it says readable: not the reason of an override, not a dose
            reason = e["reason"]
            if reason:
                assert not any(reason in b for b in bodies), f"entry {e['seq']}: its override reason is shown"
