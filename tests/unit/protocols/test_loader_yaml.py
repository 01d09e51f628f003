"""The protocol loader parses YAML with libyaml's safe loader (7x faster than PyYAML's pure-Python
one); it must read every library file exactly as the pure-Python safe loader does."""

from __future__ import annotations

from pathlib import Path

import yaml

from oligotrial.protocols import loader

LIBRARY = Path(loader.__file__).parent / "library"


def test_the_fast_loader_reads_every_protocol_as_the_reference_safe_loader_does():
    files = sorted(LIBRARY.glob("*.yaml"))
    assert len(files) == 5
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=loader._SAFE_LOADER) == yaml.safe_load(text), f.name
