"""The audit anchor's files (adapters.db.anchor.FileAnchor): keys created once (also by processes
racing), checkpoints signed and checked, the periodic rule."""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import time

import pytest

from oligotrial.adapters.db.anchor import CHECKPOINTS_FILE, HMAC_FILE, FileAnchor, default_key_dir
from oligotrial.errors import AuditError


def _key_of(directory: str, out) -> None:
    out.put(FileAnchor(directory).mac_key())


def test_keys_are_created_once_even_by_processes_starting_together(tmp_path):
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_key_of, args=(str(tmp_path / "k"), out)) for _ in range(6)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(keys) == 1 and len(keys.pop()) == 32
    assert oct((tmp_path / "k" / HMAC_FILE).stat().st_mode & 0o777) == "0o600"
    assert len(base64.b64decode((tmp_path / "k" / HMAC_FILE).read_bytes().strip())) == 32


def test_checkpoints_are_signed_never_go_back_and_a_changed_line_is_refused(tmp_path):
    a = FileAnchor(tmp_path)
    a.add_checkpoint(5, "a" * 64, "t1")
    assert a.add_checkpoint(3, "b" * 64, "t2") == {"seq": 5, "hash": "a" * 64, "at": "t1"}  # never an older head
    a.add_checkpoint(9, "c" * 64, "t3")
    assert [c["seq"] for c in FileAnchor(tmp_path).checkpoints()] == [5, 9]  # another reader, the public key
    log = tmp_path / CHECKPOINTS_FILE
    log.write_text(log.read_text().replace('"seq": 9', '"seq": 8'))
    with pytest.raises(AuditError, match="line 2: not a validly signed checkpoint"):
        FileAnchor(tmp_path).checkpoints()


def test_the_periodic_rule(tmp_path):
    a = FileAnchor(tmp_path, checkpoint_every=10)
    assert a.due(1) is True  # the first commit of a chain without a checkpoint
    a.add_checkpoint(1, "a" * 64, "t")
    past = time.time() - 60
    os.utime(tmp_path / CHECKPOINTS_FILE, (past, past))
    counts = []
    for _ in range(5):
        n = 0
        while not a.due(1):
            n += 1
            assert n < 100
        counts.append(n + 1)
    assert all(5 <= c <= 15 for c in counts), counts  # between half and one and a half times every
    os.utime(tmp_path / CHECKPOINTS_FILE, None)  # another process checkpointed just now
    assert not any(a.due(1) for _ in range(20))
    assert a.due(0) is False


def test_default_key_directories(tmp_path):
    assert default_key_dir(f"sqlite:///{tmp_path / 'x.db'}") == (tmp_path / "x.db.keys").resolve()
    pg = default_key_dir("postgresql://u@db.example:5433/trials", "s1")
    assert pg.name == "db.example-5433-trials-s1" and pg.parent.name == "keys"


def test_a_restore_checkpoint_is_signed_with_its_kind_and_cannot_be_made_from_an_ordinary_one(tmp_path):
    """Issue 26 item 5: a restore checkpoint may name an older head than the latest checkpoint
    (it rolls those back); its kind and note are signed, so an ordinary line relabelled as a
    restore (or a restore's note changed) is refused."""
    import json

    a = FileAnchor(tmp_path / "k")
    a.add_checkpoint(9, "b" * 64, "T1")
    assert a.add_checkpoint(5, "c" * 64, "T0") == {"seq": 9, "hash": "b" * 64, "at": "T1"}  # never older
    r = a.add_checkpoint(5, "a" * 64, "T2", kind="restore", note="backup b1")
    assert r == {"seq": 5, "hash": "a" * 64, "at": "T2", "kind": "restore", "note": "backup b1"}
    assert a.checkpoints()[-1] == r
    path = tmp_path / "k" / CHECKPOINTS_FILE
    lines = path.read_text().splitlines()
    for forged in ({**json.loads(lines[0]), "kind": "restore", "note": ""},
                   {**json.loads(lines[1]), "note": "backup other"},
                   {k: v for k, v in json.loads(lines[1]).items() if k not in ("kind", "note")}):
        path.write_text("\n".join([lines[0], json.dumps(forged)]) + "\n")
        with pytest.raises(AuditError, match="not a validly signed checkpoint"):
            FileAnchor(tmp_path / "k").checkpoints()


def test_the_format_epoch_is_recorded_once_per_version(tmp_path):
    a = FileAnchor(tmp_path / "k")
    assert a.format_epoch() is None
    assert a.record_format({1: 1, 3: 4}, "T") == {1: 1, 3: 4}
    assert a.record_format({3: 9, 4: 20}, "T") == {1: 1, 3: 4, 4: 20}  # a recorded version never changes
    assert FileAnchor(tmp_path / "k").format_epoch() == {1: 1, 3: 4, 4: 20}
    (tmp_path / "k" / "chain-format.json").write_text("{")
    with pytest.raises(AuditError, match="not a chain format epoch"):
        a.format_epoch()
