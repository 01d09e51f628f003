"""The audit trail is paged by the database: a page reads at most its own entries (plus one, to
know whether another page follows), never the whole trail (issue 19 item 4), on SQLite and
PostgreSQL."""

from __future__ import annotations

from oligotrial.adapters.db.audit_log import SqlAuditRepository
from oligotrial.service import audit, enrolment
from oligotrial.service.ports import Actor

TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})


def test_a_page_of_the_trail_reads_only_that_page(container, monkeypatch):
    import json
    from pathlib import Path

    record = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
    for i in range(12):
        enrolment.register(container.ctx, COORD, TRIAL, {**record, "id": f"P-{i:03d}", "events": []})
    read: list[int] = []
    original = SqlAuditRepository.audit_entries

    def spy(self, trial=None, after_seq=0, limit=None):
        rows = original(self, trial, after_seq, limit)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(SqlAuditRepository, "audit_entries", spy)
    first = audit.trail(container.ctx, COORD, TRIAL, limit=5)
    second = audit.trail(container.ctx, COORD, TRIAL, after=first[-1]["seq"], limit=5)
    rest = audit.trail(container.ctx, COORD, TRIAL, after=second[-1]["seq"], limit=5)
    assert read == [5, 5, 2]  # 12 registrations, three pages, no page read the whole trail
    seqs = [r["seq"] for r in first + second + rest]
    assert seqs == sorted(seqs) and len(set(seqs)) == 12
    assert audit.trail_size(container.ctx, COORD, TRIAL) == 12
