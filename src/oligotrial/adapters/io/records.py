"""Read patient records from files (JSON, or YAML with the same shape) and the shipped examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from oligotrial.errors import RecordError


def read_record(path: str | Path) -> dict[str, Any]:
    """Decode one record file; a file that is not JSON/YAML object raises RecordError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordError(
            f"{path}: cannot be read ({exc.strerror})", code="record_unreadable", field=str(path)
        ) from None
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            code="record_not_json",
            field=str(path),
        ) from None
    except yaml.YAMLError as exc:
        raise RecordError(f"{path}: not valid YAML ({exc})", code="record_not_yaml", field=str(path)) from None
    if not isinstance(data, dict):
        raise RecordError(
            f"{path}: expected a JSON object (a patient record), got {type(data).__name__}",
            code="record_not_object",
            field=str(path),
        )
    return data


def expand_paths(paths: list[Path]) -> Iterator[Path]:
    """Files as given; directories expanded to their *.json / *.yaml files, sorted."""
    for p in paths:
        if p.is_dir():
            yield from sorted(q for q in p.iterdir() if q.suffix.lower() in (".json", ".yaml", ".yml"))
        else:
            yield p


def example_paths() -> list[Path]:
    """The example patients shipped with the package."""
    root = resources.files("oligotrial.examples")
    return sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith(".json"))
