"""Issue 27 item 3: one protocol library port (``ProtocolLibrary``: ``get(trial, version=None,
on=None)``, ``versions(trial)``), asked everywhere for the version in force on the service's today.

A fake library shows what the service asks for; the library over the YAML files, with the STOP-2
amendment fixture (2026-06-01.r2 beside 2025-12-15.r1), shows that the version used is the one in
force on the service clock's date, not on the wall clock's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.errors import ProtocolError
from oligotrial.protocols import load_protocol, loader
from oligotrial.protocols.library_port import FileProtocolLibrary
from oligotrial.service import enrolment
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor
from service_fakes import FakeAnchor, FakeCipher, FakeDb, FakeHasher, FakeScreener, FakeUnitOfWork, StandInLibrary

DATA = Path(__file__).parents[2] / "data"
RECORD = json.loads((DATA / "format_example_patient.json").read_text())
AMENDMENTS = DATA / "protocol_amendments"
STOP2 = "NCT06918951"
R1, R2 = "2025-12-15.r1", "2026-06-01.r2"
COORD = Actor("coord", {STOP2: "coordinator"})


class FakeLibrary:
    """Two versions of one trial, chosen by effective date; every question asked is kept."""

    def __init__(self) -> None:
        base = load_protocol(STOP2, on=dt.date(2026, 1, 1))
        self.by_version = {
            "v1": base.model_copy(update={"version": "v1", "effective_date": dt.date(2026, 1, 1)}),
            "v2": base.model_copy(update={"version": "v2", "effective_date": dt.date(2026, 4, 1)}),
        }
        self.asked: list[tuple[str, str | None, dt.date | None]] = []

    def get(self, trial, version=None, on=None):
        self.asked.append((trial, version, on))
        if version is not None:
            return self.by_version[version]
        return [p for p in self.by_version.values() if on is None or p.effective_date <= on][-1]

    def versions(self, trial):
        return list(self.by_version.values())

    def in_force(self, on=None):
        return [self.get(STOP2, on=on)]


class Clock:
    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=1)
        return self.now


def _ctx(library, day: dt.date) -> ServiceContext:
    store = {"db": FakeDb(), "commits": 0, "clock": [None]}
    return ServiceContext(uow=lambda: FakeUnitOfWork(store), cipher=FakeCipher(), hasher=FakeHasher(),
                          screener=FakeScreener("eligible"), library=library, clock=Clock(day), anchor=FakeAnchor())


def test_the_context_asks_the_library_for_the_version_in_force_on_the_service_clocks_date():
    lib = FakeLibrary()
    ctx = _ctx(lib, dt.date(2026, 3, 2))
    assert ctx.protocols is lib
    assert ctx.load_protocol(STOP2).version == "v1"
    assert lib.asked[-1] == (STOP2, None, dt.date(2026, 3, 2))
    assert [p.version for p in ctx.list_protocols()] == ["v1"] and lib.asked[-1][2] == dt.date(2026, 3, 2)
    assert ctx.load_protocol(STOP2, "v2").version == "v2"  # a named version whatever its date
    later = dataclasses.replace(ctx, clock=Clock(dt.date(2026, 5, 1)))  # a copy keeps the library
    assert later.protocols is lib and later.load_protocol(STOP2).version == "v2"


def test_registering_and_screening_ask_the_library_on_the_service_clocks_date():
    lib = FakeLibrary()
    ctx = _ctx(lib, dt.date(2026, 3, 2))
    pid = enrolment.register(ctx, COORD, STOP2, RECORD)["id"]
    view = enrolment.screen(ctx, COORD, STOP2, pid)
    assert view["screening"]["protocol_version"] == "v1"
    assert lib.asked and all(on == dt.date(2026, 3, 2) for _t, version, on in lib.asked if version is None)


def test_a_copy_with_another_library_asks_that_one_and_a_context_needs_a_library():
    ctx = _ctx(FakeLibrary(), dt.date(2026, 3, 2))
    only = load_protocol(STOP2, on=dt.date(2026, 1, 1))
    stand_in = dataclasses.replace(ctx, library=StandInLibrary(only=only))
    assert stand_in.load_protocol("anything") is only and stand_in.protocols.versions(STOP2) == [only]
    assert stand_in.protocols.get(STOP2, version=only.version) is only
    with pytest.raises(ProtocolError) as e:
        stand_in.protocols.get(STOP2, version="no-such-version")
    assert e.value.code == "protocol_version_not_found"
    with pytest.raises(TypeError):
        ServiceContext(uow=ctx.uow, cipher=ctx.cipher, hasher=ctx.hasher, screener=ctx.screener)


@pytest.mark.parametrize(("service_day", "version"), [(dt.date(2026, 3, 5), R1), (dt.date(2026, 6, 2), R2)])
def test_the_version_in_force_on_the_service_clocks_date_is_used_not_the_wall_clocks(
    monkeypatch, service_day, version
):
    monkeypatch.delenv(loader.ENV_DIRS, raising=False)
    wall = dt.date(2026, 6, 2) if version == R1 else dt.date(2026, 3, 5)  # the other version by the wall clock
    monkeypatch.setattr(loader, "_today", lambda: wall)
    library = FileProtocolLibrary([AMENDMENTS])
    assert library.get(STOP2).version != version  # what the wall clock would have chosen
    assert [p.version for p in library.versions("STOP-2")] == [R1, R2]
    ctx = _ctx(library, service_day)
    assert ctx.load_protocol("stop-2").version == version
    assert {p.id: p.version for p in ctx.list_protocols()}[STOP2] == version
    pid = enrolment.register(ctx, COORD, STOP2, RECORD)["id"]
    assert enrolment.screen(ctx, COORD, STOP2, pid)["screening"]["protocol_version"] == version
    assert enrolment.current_protocol(ctx, STOP2).version == version
