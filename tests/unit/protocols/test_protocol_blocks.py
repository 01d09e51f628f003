"""``endpoint_rules`` and ``schedule`` are typed fields of the protocol, parsed once at load.

A bad block is a ProtocolError naming the file and the path inside it (a list item by its id or
code); ``oligotrial protocols show`` fails on it whichever file of the library or of
``OLIGOTRIAL_PROTOCOL_DIRS`` holds it. The blocks are dumped as the file wrote them, so ``show
--json`` and ``diff`` are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app
from oligotrial.domain.protocol import EndpointRules, Schedule, parse_endpoint_rules, parse_schedule
from oligotrial.errors import ProtocolError
from oligotrial.protocols import load_protocol, load_protocol_file, loader

LIBRARY = Path(loader.__file__).parent / "library"
STOP2_FILE = "NCT06918951_stop2.yaml"


def _stop2_with(tmp_path: Path, old: str, new: str, *, name: str = STOP2_FILE, trial_id: str | None = None) -> Path:
    text = (LIBRARY / STOP2_FILE).read_text()
    assert old in text, old
    text = text.replace(old, new, 1)
    if trial_id:
        text = text.replace("id: NCT06918951", f"id: {trial_id}", 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_blocks_are_typed_at_load():
    p = load_protocol("STOP-2")
    assert isinstance(p.endpoint_rules, EndpointRules) and isinstance(p.schedule, Schedule)
    assert p.endpoint_rules.endpoints[0].id == "pfs_nest" and p.schedule.visits[0].code == "rt_toxicity_4w"
    # the parse functions hand a protocol's own block back as it is, a raw mapping they validate
    assert parse_endpoint_rules(p.endpoint_rules) is p.endpoint_rules
    assert parse_schedule(p.schedule, blinded_roles=p.masking.blinded_roles) is p.schedule


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.name)
def test_the_blocks_dump_as_the_file_wrote_them(path: Path):
    raw = yaml.safe_load(path.read_text())
    p = load_protocol_file(path)
    for name in ("endpoint_rules", "schedule"):
        dumped = p.model_dump(mode="json")[name]
        assert dumped == raw[name] and list(dumped) == list(raw[name]), name  # no default added, file order
    # a block changed field by field dumps its fields
    changed = p.endpoint_rules.model_copy(update={"note": "changed"}).model_dump()
    assert changed["note"] == "changed" and "response_confirmation" in changed


def test_a_bad_endpoint_rule_names_the_file_and_the_rule(tmp_path):
    path = _stop2_with(tmp_path, "      kind: pfs\n", "      kind: pfs_forever\n")
    with pytest.raises(ProtocolError) as e:
        load_protocol_file(path)
    assert f"{STOP2_FILE}: endpoint_rules.endpoints.pfs.kind:" in e.value.message
    assert e.value.field == "endpoint_rules.endpoints.pfs.kind"


def test_a_bad_origin_names_the_file_and_the_path(tmp_path):
    path = _stop2_with(tmp_path, "  origin: randomization\n", "  origin: consent\n")
    with pytest.raises(ProtocolError, match=rf"{STOP2_FILE}: endpoint_rules\.origin: "):
        load_protocol_file(path)


def test_a_bad_visit_names_the_file_and_the_visit(tmp_path):
    path = _stop2_with(tmp_path, "    day: 28\n", "    day: -28\n")
    with pytest.raises(ProtocolError, match=rf"{STOP2_FILE}: schedule\.visits\.rt_toxicity_4w\.day: "):
        load_protocol_file(path)


def test_a_blinded_trial_anchoring_a_visit_to_the_last_fraction_fails_at_load(tmp_path):
    path = _stop2_with(tmp_path, "    anchor: radiotherapy_start\n", "    anchor: radiotherapy_end\n")
    with pytest.raises(ProtocolError, match=rf"{STOP2_FILE}: schedule: .*last radiotherapy fraction"):
        load_protocol_file(path)


def test_protocols_show_fails_naming_a_bad_file_in_the_protocol_dirs(tmp_path):
    """Any bad file fails ``show``, even one of another trial than the one shown."""
    _stop2_with(tmp_path, "      kind: pfs\n", "      kind: pfs_forever\n", name="other.yaml", trial_id="NCT99999999")
    r = CliRunner().invoke(app, ["protocols", "show", "STOP-2"], env={loader.ENV_DIRS: str(tmp_path), "COLUMNS": "400"})
    assert r.exit_code != 0
    assert "other.yaml: endpoint_rules.endpoints.pfs.kind:" in r.output
    ok = CliRunner().invoke(app, ["protocols", "show", "STOP-2", "--json"], env={"COLUMNS": "400"})
    assert ok.exit_code == 0, ok.output
