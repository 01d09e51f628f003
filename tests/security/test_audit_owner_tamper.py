"""Attacks by whoever owns the database on the audit trail (issue 19 item 2): a rewrite with every
hash recomputed, a truncation and a wipe. On main before issue 19 the chain had no key and its
head lived beside it, so each of these passed ``audit verify`` (the probe: 0 of 10 detected).
Now each entry's link covers an HMAC of its content under a key held outside the database,
and signed checkpoints kept outside it pin the chain's head."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from oligotrial.domain.trial.audit import GENESIS
from oligotrial.service import audit
from owner_db import activity, as_owner, recompute, rows, service_on

BACKENDS = ["sqlite", "postgres"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("keyed", [False, True], ids=["as-main-hashes", "relinked-keeping-digests"])
def test_a_rewrite_with_the_chain_recomputed_is_detected(backend, keyed, tmp_path):
    with service_on(backend, tmp_path) as c:
        activity(c.ctx)
        assert audit.verify(c.ctx).ok
        target = next(r for r in rows(c) if r["action"] == "radiotherapy.record")
        # the owner changes what was recorded, then makes every stored hash consistent again
        as_owner(c, "UPDATE audit_log SET actor = 'someone-else', reason = 'recorded late' WHERE seq = :s",
                 params={"s": target["seq"]})
        recompute(c, keyed=keyed)
        rep = audit.verify(c.ctx)
        assert not rep.ok
        if keyed:  # the keyed digest no longer matches the content: the very entry is named
            assert target["seq"] in rep.altered, rep.to_dict()
        else:  # rewritten as unkeyed links: the signed checkpoint no longer matches the chain
            assert rep.checkpoint_problems, rep.to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_truncation_to_before_the_latest_checkpoint_is_detected(backend, tmp_path, monkeypatch):
    from oligotrial.adapters.cli.main import app

    with service_on(backend, tmp_path) as c:
        activity(c.ctx)
        _cli_env(monkeypatch, c.settings)
        r = CliRunner().invoke(app, ["audit", "checkpoint"])  # on demand
        assert r.exit_code == 0 and "checkpoint: seq" in r.output, r.output
        cp = c.ctx.anchor.checkpoints()[-1]
        assert cp["seq"] == audit.verify(c.ctx).last_seq
        keep = cp["seq"] - 3
        tail = next(r for r in rows(c) if r["seq"] == keep)
        as_owner(c, "DELETE FROM audit_log WHERE seq > :k", "UPDATE audit_head SET last_seq = :k, last_hash = :h",
                 params={"k": keep, "h": tail["hash"]})
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.removed == [keep + 1, keep + 2, keep + 3], rep.to_dict()
        assert rep.checkpoint_problems
        # and the operator's command says so
        r = CliRunner().invoke(app, ["audit", "verify"])
        assert r.exit_code == 1 and "BROKEN" in r.output and f"checkpoint at seq {cp['seq']}" in r.output


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_wiped_trail_is_detected(backend, tmp_path):
    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=2)
        cp = audit.checkpoint(c.ctx)
        as_owner(c, "DELETE FROM audit_log", "UPDATE audit_head SET last_seq = 0, last_hash = :h", params={"h": GENESIS})
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.checked == 0 and rep.removed == list(range(1, cp["seq"] + 1)), rep.to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_forged_checkpoint_is_refused(backend, tmp_path):
    """The checkpoint log is outside the database, but whoever can append to it without the
    signing key cannot vouch for a rewritten chain: its line does not verify."""
    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=1)
        audit.checkpoint(c.ctx)
        log = tmp_path / "keys" / "checkpoints.jsonl"
        log.write_text(log.read_text() + '{"seq": 99, "hash": "' + "a" * 64 + '", "at": "x", "sig": "AAAA"}\n')
        with pytest.raises(Exception, match="not a validly signed checkpoint"):
            audit.verify(c.ctx)


def test_a_checkpoint_is_written_at_the_first_commit_and_a_broken_chain_is_never_signed(tmp_path):
    """The first commit of a chain without a checkpoint writes one (the periodic rule:
    tests/unit/adapters/test_audit_anchor.py); a checkpoint over a broken chain is refused."""
    from oligotrial.config import Settings

    with service_on("sqlite", tmp_path) as c:
        activity(c.ctx, n=2)
        cps = c.ctx.anchor.checkpoints()
        n = audit.verify(c.ctx).last_seq
        assert cps[0]["seq"] == 1, cps
        as_owner(c, "UPDATE audit_log SET actor = 'x' WHERE seq = :s", params={"s": n})
        with pytest.raises(Exception, match="does not verify"):
            audit.checkpoint(c.ctx)
        assert c.ctx.anchor.checkpoints() == cps
        assert Settings().audit_checkpoint_every == 100


def _cli_env(monkeypatch, settings) -> None:
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", settings.audit_key_dir)
    if settings.database_schema:
        monkeypatch.setenv("OLIGOTRIAL_DATABASE_SCHEMA", settings.database_schema)


def test_verifying_with_another_key_reports_every_keyed_entry_and_names_the_key_used(tmp_path, monkeypatch):
    """A database moved without its key directory: nothing keyed can be vouched for, and the
    operator is told which key was used."""
    from oligotrial.adapters.cli.main import app

    with service_on("sqlite", tmp_path) as c:
        activity(c.ctx, n=1)
        n = audit.verify(c.ctx).last_seq
        _cli_env(monkeypatch, c.settings)
        monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", str(tmp_path / "other-keys"))
        r = CliRunner().invoke(app, ["audit", "verify"])
        assert r.exit_code == 1 and f"altered {list(range(1, n + 1))}" in r.output, r.output
        assert str(tmp_path / "other-keys") in r.output.replace("\n", "")
