"""The visit schedule of a protocol (its ``schedule:`` block), as a pydantic model.

Each visit is anchored to randomization (enrolment in a single-arm trial), enrolment, the first
or last radiotherapy fraction, or the first progression, with a target day and a window either
side, and carries the registry text it comes from. Where the registry
gives no schedule the block says so (``registry_gives_schedule: false``) and every visit is
marked ``site_default: true``: a clearly labelled site default, not a protocol requirement.
A protocol that blinds any role never anchors a visit to the last fraction, whose date differs by
arm when the arms' fractionations differ (the protocol refuses it at load:
:func:`last_fraction_visits`). The block is parsed once, when the protocol file is loaded
(``Protocol.schedule``), and dumped as the file wrote it (:class:`~.written.WrittenBlock`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oligotrial.domain.protocol.written import WrittenBlock

Anchor = Literal["randomization", "enrolment", "radiotherapy_start", "radiotherapy_end", "progression"]
Form = Literal["assessment", "adverse_events", "qol", "labs", "imaging"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VisitSpec(_Model):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    anchor: Anchor
    day: int = Field(ge=0, le=3650, description="target day after the anchor")
    window_before_days: int = Field(ge=0, le=365)
    window_after_days: int = Field(ge=0, le=365)
    forms: list[Form] = []
    site_default: bool = False
    source_text: str = Field(min_length=3)


class Schedule(WrittenBlock):
    registry_gives_schedule: bool
    source_text: str = Field(min_length=3)
    note: str | None = None
    visits: list[VisitSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        codes = [v.code for v in self.visits]
        if len(set(codes)) != len(codes):
            raise ValueError(f"visit codes must be unique: {codes}")
        if not self.registry_gives_schedule and not all(v.site_default for v in self.visits):
            bad = [v.code for v in self.visits if not v.site_default]
            raise ValueError(f"registry gives no schedule, so every visit must be site_default: {bad}")
        return self


def last_fraction_visits(schedule: Schedule, blinded_roles: Iterable[str]) -> str | None:
    """Why ``schedule`` would reveal the arm in a trial that blinds ``blinded_roles`` (None: it
    does not): a visit anchored to the last radiotherapy fraction, whose date differs by arm."""
    roles = sorted(blinded_roles)
    bad = [v.code for v in schedule.visits if v.anchor == "radiotherapy_end"]
    if not roles or not bad:
        return None
    return (
        f"visits {bad}: anchored to the last radiotherapy fraction in a trial that blinds "
        f"{roles}; expected randomization or radiotherapy_start (the last fraction's date differs by arm)"
    )


def parse_schedule(raw: Schedule | dict[str, Any] | None, *, blinded_roles: Sequence[str] = ()) -> Schedule | None:
    """The schedule of a ``schedule`` block (``None`` when absent): a protocol's own
    (``Protocol.schedule``, parsed at load) as it is, a raw mapping validated. With blinded roles,
    a visit anchored to the last radiotherapy fraction is refused (ValueError): its date would
    differ by arm and so reveal it."""
    if raw is None:
        return None
    schedule = raw if isinstance(raw, Schedule) else Schedule.model_validate(raw)
    bad = last_fraction_visits(schedule, blinded_roles)
    if bad:
        raise ValueError(bad)
    return schedule
