"""Issue 26 item 1: "The randomization commitment is a seed oracle. It carries no secret, and
blinded roles see it: with the demo's list generated from seed 1, the statistician rebuilt the
list and matched all 97 arms in under a second ... A commitment must bind the list without
letting anyone who lacks the key test a guess (keyed, or salted with a secret revealed at
unblinding); no seed appears anywhere a blinded role can read; `oligotrial randomization
verify` checks the list against the commitment once the key or salt is revealed".

The attack, as the probe ran it: the statistician (blinded in STOP-2) reads the published
commitment, rebuilds the list from a guessed seed with the public algorithm, and tests the guess
against the commitment. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json

import numpy as np
import pytest

from hostile_app import TRIAL, app_on
from oligotrial.domain.trial import randomization as algo
from oligotrial.protocols import load_protocol

SEED = 77  # the list's seed in hostile_app (as the demo's was the public --seed)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


def _rebuilt_commitments(seed: int) -> set[str]:
    """Every commitment an attacker without the salt can compute from a guessed seed: the list
    rebuilt with the public algorithm and parameters, under the plain scheme and the salted
    scheme with the salts a guesser would try."""
    protocol = load_protocol(TRIAL)
    factors = [(f.id, list(f.levels)) for f in protocol.stratification.factors]
    rng = np.random.default_rng(seed)
    ratio = dict(protocol.allocation_ratio)
    slots = [s for key in algo.all_strata(factors) for s in algo.permuted_blocks(key, ratio, 60, rng, (1, 2, 3))]
    params = {"ratio": ratio, "block_multiples": [1, 2, 3], "size_per_stratum": 60, "strata": algo.all_strata(factors)}
    out = set()
    for p in (params, {**params, "commitment_scheme": algo.SALTED_SCHEME}):
        doc = {"trial": protocol.id, "method": "permuted_blocks", "seed": seed, "params": p,
               "slots": [[s.stratum, s.seq, s.block, s.block_size, s.payload]
                         for s in sorted(slots, key=lambda s: (s.stratum, s.seq))]}
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        out.add(hashlib.sha256(blob).hexdigest())
        for salt in (b"", b"\0" * 32, str(seed).encode()):
            out.add(hmac.new(salt, blob, hashlib.sha256).hexdigest())
    return out


def _everything_readable(api, user: str) -> str:
    """All a role reads about the list: the trial summary and the whole audit trail."""
    texts = [api.call("GET", f"/api/v1/trials/{TRIAL}", user).text]
    url = f"/api/v1/trials/{TRIAL}/audit?limit=1000"
    while url:
        r = api.call("GET", url, user)
        if r.status_code == 403:  # a role without the audit trail
            break
        assert r.status_code == 200, r.text
        texts.append(r.text)
        link = r.headers.get("Link")
        url = link[1:link.index(">")] if link else None
    return "\n".join(texts)


def test_a_guessed_seed_cannot_be_tested_against_the_published_commitment(backend, tmp_path):
    with app_on(backend, tmp_path) as api:
        summary = api.call("GET", f"/api/v1/trials/{TRIAL}", "statistician").json()
        published = summary["list"]["commitment"]
        assert len(published) == 64
        # the attack recovers nothing: no guess, the true seed included, matches
        for guess in [SEED, *range(200)]:
            assert published not in _rebuilt_commitments(guess), guess
        # and no seed or salt is anywhere the statistician (or the enrolling oncologist) reads
        for role in ("statistician", "enrolling_oncologist"):
            seen = _everything_readable(api, role)
            for word in ('"seed"', "seed_ct", "salt", '"params"'):
                assert word not in seen, (role, word)


def test_the_revealed_list_opens_the_commitment_and_a_changed_one_does_not(backend, tmp_path):
    from oligotrial.service import randomization

    with app_on(backend, tmp_path) as api:
        ctx = api.container.ctx
        assert randomization.verify_commitment(ctx, TRIAL)  # the operator, with the key
        doc = randomization.reveal(ctx, TRIAL)
        assert doc["seed"] == SEED and len(bytes.fromhex(doc["salt"])) == 32
        assert randomization.verify_revealed(json.loads(json.dumps(doc)))  # anyone, without a key
        first = doc["slots"][0]
        other = next(a.id for a in load_protocol(TRIAL).arms if a.id != first[4])
        swapped = {**doc, "slots": [[*first[:4], other], *doc["slots"][1:]]}
        assert not randomization.verify_revealed(swapped)
        assert not randomization.verify_revealed({**doc, "salt": "00" * 32})
        with api.container.ctx.uow() as uow:
            actions = [e["action"] for e in uow.audit.audit_entries(TRIAL)]
        assert "randomization.reveal" in actions  # opening the list is audited


def test_randomization_verify_checks_a_revealed_file_without_a_database(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app

    db = tmp_path / "t.db"
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", str(tmp_path / "keys"))
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["randomization", "generate", "--trial", "STOP-2", "--seed", "1", "--size", "8"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "revealed.json"
    r = runner.invoke(app, ["randomization", "reveal", "--trial", "STOP-2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", "sqlite:////nonexistent/dir/x.db")  # no database needed
    r = runner.invoke(app, ["randomization", "verify", "--revealed", str(out)])
    assert r.exit_code == 0 and "commitment matches the revealed list" in r.output, r.output
    doc = json.loads(out.read_text())
    doc["seed"] = 2
    out.write_text(json.dumps(doc))
    r = runner.invoke(app, ["randomization", "verify", "--revealed", str(out)])
    assert r.exit_code == 1 and "MISMATCH" in r.output


def test_the_commitment_is_keyed_by_a_salt_of_at_least_32_bytes():
    slots = [algo.Slot("all", 1, 1, 2, "a"), algo.Slot("all", 2, 1, 2, "b")]
    salt = bytes(range(32))
    h = algo.commitment("T", "permuted_blocks", 3, {"salt_ct": "x"}, slots, salt=salt)
    assert h == algo.commitment("T", "permuted_blocks", 3, {}, slots, salt=salt)  # the salt's ciphertext is not committed
    assert h != algo.commitment("T", "permuted_blocks", 3, {}, slots)  # plain SHA-256 (lists made before)
    assert h != algo.commitment("T", "permuted_blocks", 3, {}, slots, salt=bytes(32))
    from oligotrial.errors import RandomizationError

    with pytest.raises(RandomizationError):
        algo.commitment("T", "permuted_blocks", 3, {}, slots, salt=b"short")


def test_the_demo_does_not_build_its_concealed_list_from_the_public_seed(tmp_path):
    """The probe rebuilt "the demo's list generated from seed 1": `oligotrial demo` now draws the
    list's seed at random unless --list-seed names one."""
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.service import randomization

    seeds = {}
    for name, extra in (("drawn", []), ("fixed", ["--list-seed", "1"])):
        out = tmp_path / name
        r = CliRunner().invoke(app, ["demo", "--trial", "STOP-2", "--patients", "2", "--seed", "1", *extra,
                                     "--out", str(out)])
        assert r.exit_code == 0, r.output
        env = dict(line.split("=", 1) for line in (out / "oligotrial.env").read_text().splitlines() if "=" in line)
        c = bootstrap(Settings(**{k.removeprefix("OLIGOTRIAL_").lower(): v for k, v in env.items()}))
        try:
            seeds[name] = randomization.reveal(c.ctx, "STOP-2")["seed"]
        finally:
            c.dispose()
    assert seeds["fixed"] == 1 and seeds["drawn"] != 1
