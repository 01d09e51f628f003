"""Load the protocol library (YAML). The only file reader in ``protocols``.

The library is the shipped directory ``oligotrial/protocols/library/`` plus any extra
directories: those named in the environment variable ``OLIGOTRIAL_PROTOCOL_DIRS`` (paths
separated by ``os.pathsep``, ``:`` on POSIX) and those passed as ``extra_dirs`` to the functions
below. Every ``*.yaml``/``*.yml`` file in them is one version of one trial's protocol.

Versions and amendments: a trial may be defined by several files with the same ``id`` and
different ``version`` (an amendment is a new file beside the old one, naming the version it
``amends``); two files with the same ``id`` and ``version`` are an error naming both files.
Each version has an ``effective_date``. The *current* version of a trial on a day is the one
with the latest ``effective_date`` not after that day (two versions taking effect on that same
date are an error); :func:`load_protocol` without ``version`` returns it, with ``version`` the
named version whatever its date.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.errors import ProtocolError

_LIBRARY = "oligotrial.protocols.library"
#: extra protocol directories, separated by ``os.pathsep``
ENV_DIRS = "OLIGOTRIAL_PROTOCOL_DIRS"
_SUFFIXES = (".yaml", ".yml")


def _library_files() -> list[Path]:
    root = resources.files(_LIBRARY)
    return sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith(".yaml"))


def _dir_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ProtocolError(f"protocol directory {directory}: not a directory", field="protocol_dirs")
    return sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file())


def _today() -> dt.date:
    """Today's date by the one clock (UTC): the day "current version" means when no date is
    given. The service always gives its own today (:class:`~.library_port.FileProtocolLibrary`)."""
    from oligotrial.clock import utc_today

    return utc_today()


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_protocol_file(path: str | Path) -> Protocol:
    """Parse and validate one protocol YAML file."""
    path = Path(path)
    try:
        # libyaml's safe loader when PyYAML was built with it: the same documents (the protocol
        # tests load every library file), 7x faster (0.48 s -> 0.065 s for the five protocols)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ProtocolError(f"protocol file {path}: cannot be read as YAML ({exc})", field=str(path)) from None
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = _path_in(data, first["loc"])
        raise ProtocolError(
            f"protocol file {path.name}: {loc or 'protocol'}: {first['msg']} ({len(exc.errors())} problem(s))",
            field=loc,
        ) from None


#: the keys that name an item of a list in a protocol file (criteria, arms, endpoint rules, visits)
_ITEM_KEYS = ("id", "code", "key", "label")


def _path_in(data: Any, loc: tuple[int | str, ...]) -> str:
    """The dotted path of a validation error inside the file: a list item by the id it carries
    (``endpoint_rules.endpoints.pfs.kind``), by its index where it has none."""
    parts: list[str] = []
    node = data
    for step in loc:
        name = str(step)
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
            if isinstance(node, dict):
                name = next((str(node[k]) for k in _ITEM_KEYS if isinstance(node.get(k), str | int)), name)
        else:
            node = node.get(step) if isinstance(node, dict) else None
        parts.append(name)
    return ".".join(parts)


def _dirs(extra_dirs: Iterable[str | Path] | None) -> tuple[Path, ...]:
    """The extra directories: the environment variable's, then ``extra_dirs``; each once."""
    named = [d for d in os.environ.get(ENV_DIRS, "").split(os.pathsep) if d.strip()]
    named += [str(d) for d in (extra_dirs or [])]
    out: list[Path] = []
    for d in named:
        path = Path(d.strip() if isinstance(d, str) else d).expanduser().resolve()
        if path not in out:
            out.append(path)
    return tuple(out)


@functools.cache
def _catalogue(dirs: tuple[Path, ...]) -> dict[str, tuple[tuple[Protocol, Path], ...]]:
    """Every version of every trial with its file, by trial id, each trial's versions ordered by
    effective date (then version)."""
    files = _library_files()
    for d in dirs:
        files += [f for f in _dir_files(d) if f.resolve() not in {g.resolve() for g in files}]
    found: dict[str, list[tuple[Protocol, Path]]] = {}
    for path in files:
        p = load_protocol_file(path)
        for q, q_path in found.get(p.id, []):
            if q.version == p.version:
                raise ProtocolError(
                    f"protocol {p.id} version {p.version!r} is defined twice: {q_path} and {path}",
                    code="protocol_duplicate",
                    field="version",
                )
        found.setdefault(p.id, []).append((p, path))
    out: dict[str, tuple[tuple[Protocol, Path], ...]] = {}
    for trial, versions in found.items():
        ordered = sorted(versions, key=lambda vp: (vp[0].effective_date, vp[0].version))
        by_version = {p.version: p for p, _ in ordered}
        for p, path in ordered:
            if p.amends is None:
                continue
            base = by_version.get(p.amends)
            if base is None:
                raise ProtocolError(
                    f"protocol file {path.name}: {p.id} version {p.version!r} amends "
                    f"{p.amends!r}, which is not in the library",
                    field="amends",
                )
            if base.effective_date >= p.effective_date:
                raise ProtocolError(
                    f"protocol file {path.name}: {p.id} version {p.version!r} (effective "
                    f"{p.effective_date}) amends {p.amends!r}, which takes effect on {base.effective_date}; "
                    "expected an amendment to take effect after the version it amends",
                    field="effective_date",
                )
        out[trial] = tuple(ordered)
    return out


def load_library(extra_dirs: Iterable[str | Path] | None = None) -> dict[str, list[Protocol]]:
    """Every version of every protocol, by trial id, each list ordered by effective date.
    ``extra_dirs`` are read as well as the shipped library and ``OLIGOTRIAL_PROTOCOL_DIRS``."""
    return {trial: [p for p, _ in vs] for trial, vs in sorted(_catalogue(_dirs(extra_dirs)).items())}


def _trial_id(cat: dict[str, tuple[tuple[Protocol, Path], ...]], trial: str) -> str:
    key = trial.strip()
    if key.upper() in cat:
        return key.upper()
    for trial_id, versions in cat.items():
        if any(p.short_name.lower() == key.lower() for p, _ in versions):
            return trial_id
    known = ", ".join(f"{vs[-1][0].id} ({vs[-1][0].short_name})" for _, vs in sorted(cat.items()))
    raise ProtocolError(f"trial {trial!r}: expected one of {known}", code="protocol_not_found", field="trial")


def _current(versions: tuple[tuple[Protocol, Path], ...], on: dt.date) -> Protocol:
    in_effect = [(p, path) for p, path in versions if p.effective_date <= on]
    if not in_effect:
        first = versions[0][0]
        raise ProtocolError(
            f"trial {first.id}: no version is in effect on {on.isoformat()} (the first, {first.version!r}, "
            f"takes effect on {first.effective_date.isoformat()})",
            code="protocol_not_in_effect",
            field="date",
        )
    latest = in_effect[-1][0].effective_date
    tied = [(p, path) for p, path in in_effect if p.effective_date == latest]
    if len(tied) > 1:
        names = " and ".join(f"{p.version!r} ({path})" for p, path in tied)
        raise ProtocolError(
            f"trial {tied[0][0].id}: versions {names} both take effect on {latest.isoformat()}; "
            "expected one current version",
            code="protocol_ambiguous",
            field="effective_date",
        )
    return tied[0][0]


def _as_date(on: dt.date | str | None) -> dt.date:
    if on is None:
        return _today()
    if isinstance(on, dt.datetime):
        return on.date()
    if isinstance(on, dt.date):
        return on
    try:
        return dt.date.fromisoformat(str(on))
    except ValueError:
        raise ProtocolError(f"date {on!r}: expected an ISO 8601 date (YYYY-MM-DD)", field="date") from None


def list_protocols(
    *, on: dt.date | str | None = None, extra_dirs: Iterable[str | Path] | None = None
) -> list[Protocol]:
    """Every protocol in its current version (on ``on``, default today), ordered by registry id;
    a trial none of whose versions is in effect yet is left out."""
    day = _as_date(on)
    return [
        _current(vs, day) for _, vs in sorted(_catalogue(_dirs(extra_dirs)).items()) if vs[0][0].effective_date <= day
    ]


def load_protocol(
    trial: str,
    version: str | None = None,
    *,
    on: dt.date | str | None = None,
    extra_dirs: Iterable[str | Path] | None = None,
) -> Protocol:
    """A protocol by NCT id or short name (case-insensitive): the named ``version``, or else the
    version current on ``on`` (default today): the latest ``effective_date`` not after that day."""
    cat = _catalogue(_dirs(extra_dirs))
    versions = cat[_trial_id(cat, trial)]
    if version is None:
        return _current(versions, _as_date(on))
    for p, _ in versions:
        if p.version == version.strip():
            return p
    known = ", ".join(repr(p.version) for p, _ in versions)
    raise ProtocolError(
        f"trial {versions[0][0].id}: version {version!r}: expected one of {known}",
        code="protocol_version_not_found",
        field="version",
    )


def protocol_versions(trial: str, *, extra_dirs: Iterable[str | Path] | None = None) -> list[Protocol]:
    """Every version of a trial's protocol (NCT id or short name), ordered by effective date."""
    cat = _catalogue(_dirs(extra_dirs))
    return [p for p, _ in cat[_trial_id(cat, trial)]]
