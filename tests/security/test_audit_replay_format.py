"""Issue 26 item 4: audit gaps outside the threat model, on SQLite and PostgreSQL.

"Replayed (copied) entries verify, and `audit checkpoint` then signs the rewritten chain; a
whole chain rewritten in the old unkeyed format verifies for a verifier without the checkpoint
log, while the genuine chain fails there." Each entry now carries a random nonce inside its
keyed digest (v3), so a copy repeats it; the chain's format epoch is kept with the keys, so a
chain older than its format is refused even where no checkpoint covers it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from oligotrial.domain.trial.audit import link_v2
from oligotrial.errors import AuditError
from oligotrial.service import audit
from owner_db import activity, as_owner, recompute, rows, service_on

BACKENDS = ["sqlite", "postgres"]


def _replay(c, original: dict) -> int:
    """The owner appends a copy of ``original`` (content, nonce and keyed digest kept: it cannot
    make a new one) at the end of the chain, links it and moves the head, as the code would."""
    head = rows(c)[-1]
    seq = head["seq"] + 1
    h = link_v2(head["hash"], seq, original["mac"], original["bind"])
    cols = [k for k in original if k not in ("seq", "prev_hash", "hash")]
    values = {**{k: (json.dumps(original[k]) if k in ("old", "new") else original[k]) for k in cols},
              "seq": seq, "prev_hash": head["hash"], "hash": h}
    as_owner(c, f"INSERT INTO audit_log (seq, prev_hash, hash, {', '.join(cols)}) "
                f"VALUES (:seq, :prev_hash, :hash, {', '.join(':' + k for k in cols)})",
             "UPDATE audit_head SET last_seq = :seq, last_hash = :hash WHERE id = 1", params=values)
    return seq


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replayed_entry_is_reported_and_audit_checkpoint_refuses_to_sign_it(backend, tmp_path, monkeypatch):
    from oligotrial.adapters.cli.main import app

    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=2)
        signed = audit.checkpoint(c.ctx)
        # the owner replays the record of a radiotherapy course (before the latest checkpoint)
        original = next(r for r in rows(c) if r["action"] == "radiotherapy.record")
        assert original["v"] == 3 and original["nonce"] and original["seq"] <= signed["seq"]
        copy = _replay(c, original)
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.replayed == [copy] and not rep.altered, rep.to_dict()
        with pytest.raises(AuditError, match=rf"replayed \[{copy}\]"):
            audit.checkpoint(c.ctx)
        assert c.ctx.anchor.checkpoints()[-1] == signed  # nothing signed over the copy
        monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", c.settings.database_url)
        monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", c.settings.audit_key_dir)
        if c.settings.database_schema:
            monkeypatch.setenv("OLIGOTRIAL_DATABASE_SCHEMA", c.settings.database_schema)
        r = CliRunner().invoke(app, ["audit", "checkpoint"])
        assert r.exit_code == 1 and "nothing was signed" in r.output, r.output
        r = CliRunner().invoke(app, ["audit", "verify"])
        assert r.exit_code == 1 and f"replayed [{copy}]" in r.output, r.output


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replay_after_the_latest_checkpoint_is_reported(backend, tmp_path):
    """Both the entry and its copy past the latest checkpoint: the chain alone shows the nonce twice."""
    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=1)
        audit.checkpoint(c.ctx)
        activity_more = rows(c)[-1]["seq"]
        from owner_db import enrolled

        enrolled(c.ctx, 7)
        original = next(r for r in rows(c) if r["seq"] > activity_more)
        copy = _replay(c, original)
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.replayed == [copy], rep.to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chain_rewritten_in_the_unkeyed_format_is_refused_without_the_checkpoint_log(backend, tmp_path):
    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=2)
        keys = tmp_path / "keys"
        epoch = json.loads((keys / "chain-format.json").read_text())
        assert epoch["first_seq"] == {"3": 1}, epoch  # recorded with the first checkpoint
        (keys / "checkpoints.jsonl").unlink()  # a verifier without the checkpoint log
        assert audit.verify(c.ctx).ok  # the genuine chain verifies there
        recompute(c, keyed=False)  # the owner rewrites every entry as an unkeyed (v1) link
        rep = audit.verify(c.ctx)
        n = rep.last_seq
        assert not rep.ok and len(rep.format_problems) == n, rep.to_dict()
        assert "entry 1: version 1, but the chain's format epoch" in rep.format_problems[0]
        with pytest.raises(AuditError, match="format epoch"):
            audit.checkpoint(c.ctx)  # and it is never signed


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_key_directory_without_a_format_epoch_records_it_on_first_use(backend, tmp_path):
    """Trust on first use: a key directory made before the epoch existed gets it from the chain at
    the next checkpoint, once the chain verifies; a recorded version never changes."""
    with service_on(backend, tmp_path) as c:
        activity(c.ctx, n=1)
        audit.checkpoint(c.ctx)
        path = tmp_path / "keys" / "chain-format.json"
        path.unlink()
        assert "no chain format epoch" in " ".join(audit.verify(c.ctx).notes)
        from owner_db import enrolled

        enrolled(c.ctx, 5)
        audit.checkpoint(c.ctx)
        assert json.loads(path.read_text())["first_seq"] == {"3": 1}
        as_owner(c, "UPDATE audit_log SET v = 2 WHERE seq = 1")  # the owner relabels the first entry v2
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.format_problems and 1 in rep.altered, rep.to_dict()
