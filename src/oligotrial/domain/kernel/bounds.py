"""What any input may hold: valid text, finite numbers, plausible dates, bounded sizes.

One set of bounds for every way in (record files, the command line, the API): the record's
models inherit :class:`BoundedModel`, the web edge checks untyped JSON with
:func:`first_problem`, and both name the field, the value and what was expected.

- **Text** is valid Unicode that every storage backend can hold: no lone UTF-16 surrogate
  (U+D800-U+DFFF; such a string has no UTF-8 encoding, so it can neither be stored in
  PostgreSQL nor sent back in a UTF-8 response) and no NUL character (U+0000; PostgreSQL text
  cannot hold it). Unicode Standard 15.0, section 3.9 (D76, D92: a Unicode scalar value
  excludes the surrogate code points; a well-formed UTF-8 code unit sequence encodes only
  scalar values); PostgreSQL 15 documentation, section 8.3 ("the character with code zero
  cannot be stored").
- **Numbers** are finite. JSON has no NaN or Infinity (RFC 8259, section 6: "Numeric values
  that cannot be represented ... such as Infinity and NaN are not permitted"); Python's parser
  accepts them, SQLite stores them and PostgreSQL's ``jsonb`` refuses them, so they are refused
  here, on every backend alike.
- **Dates** lie in :data:`EARLIEST_DATE` .. :data:`LATEST_DATE` (1900-01-01 to 2100-12-31):
  every birth, diagnosis, treatment and follow-up date of a participant alive today, with
  room for a follow-up schedule of decades after the last, and far from the calendar's end
  (9999-12-31), where adding a visit's days overflows.
- **Sizes**: a text field holds at most :data:`MAX_TEXT_CHARS` characters unless its model
  says less; a list at most :data:`MAX_LIST_ITEMS` items (the record's lesions and an
  assessment's findings at most :data:`MAX_LESIONS`); untyped JSON nests at most
  :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
MAX_TEXT_CHARS = 5000
MAX_LIST_ITEMS = 1000
#: lesions of one record, findings of one assessment: RECIST 1.1 measures at most 5 target
#: lesions and groups the rest; 200 is far beyond any record a reader produces
MAX_LESIONS = 200
MAX_DEPTH = 32


def text_problem(text: str) -> str | None:
    """What makes ``text`` unstorable (a lone surrogate, a NUL character), or None."""
    if "\x00" in text:
        return "text without the NUL character U+0000"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"valid Unicode text: a lone UTF-16 surrogate U+{ord(text[exc.start]):04X} at character "
                f"{exc.start} has no encoding")
    return None


def date_problem(day: dt.date) -> str | None:
    """Why ``day`` is outside the plausible range, or None."""
    if isinstance(day, dt.datetime):
        day = day.date()
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return f"a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"
    return None


def shown(value: Any, limit: int = 80) -> str:
    """``value`` as it may be echoed in an error: printable ASCII (surrogates and other code
    points escaped), non-finite numbers named, long values cut."""
    if isinstance(value, str):
        text = value.encode("unicode_escape").decode("ascii")
    elif isinstance(value, (list, tuple, dict)):
        text = f"{type(value).__name__} of {len(value)} item(s)"
    else:
        text = repr(value).encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "..."


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def problems(value: Any, path: str = "", *, max_depth: int = MAX_DEPTH,
             max_items: int = MAX_LIST_ITEMS) -> Iterator[tuple[str, str, str]]:
    """Every ``(path, value shown, expected)`` that makes ``value`` (decoded JSON, or a field's
    value) unacceptable: bad text (values and keys), non-finite numbers, dates out of range,
    lists or objects over ``max_items``, nesting over ``max_depth``. Iterative: a deep value
    cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        v, where, depth = stack.pop()
        if isinstance(v, str):
            why = text_problem(v)
            if why:
                yield where, shown(v), why
        elif isinstance(v, float):
            if not math.isfinite(v):
                yield where, shown(v), "a finite number (NaN and Infinity are not numbers in JSON)"
        elif isinstance(v, dt.date):
            why = date_problem(v)
            if why:
                yield where, v.isoformat(), why
        elif isinstance(v, (list, tuple, dict)):
            if depth >= max_depth:
                yield where, shown(v), f"at most {max_depth} levels of nesting"
                continue
            if len(v) > max_items:
                yield where, shown(v), f"at most {max_items} items"
                continue
            if isinstance(v, dict):
                children: list[tuple[Any, str, int]] = []
                for k, item in v.items():
                    key = str(k)
                    why = text_problem(key)
                    if why:
                        yield where or "body", shown(key), f"keys of {why}"
                        continue
                    children.append((item, _join(where, key), depth + 1))
            else:
                children = [(item, _join(where, i), depth + 1) for i, item in enumerate(v)]
            stack.extend(reversed(children))


def first_problem(value: Any, path: str = "", **kw: Any) -> tuple[str, str, str] | None:
    """The first of :func:`problems`, or None."""
    return next(problems(value, path, **kw), None)


def _bounded_date(day: dt.date) -> dt.date:
    why = date_problem(day)
    if why:
        raise ValueError(f"{day.isoformat()}: expected {why}")
    return day


#: a date within :data:`EARLIEST_DATE` .. :data:`LATEST_DATE`
BoundedDate = Annotated[dt.date, AfterValidator(_bounded_date)]


class BoundedModel(BaseModel):
    """Base of every input model: floats finite (``allow_inf_nan=False``), text at most
    :data:`MAX_TEXT_CHARS` characters unless the field says less, and, after the fields are
    parsed, every text valid, every date in range and every list bounded (:func:`problems`).
    A problem is reported in the record's error convention ``@path|value|expected``."""

    model_config = ConfigDict(allow_inf_nan=False, str_max_length=MAX_TEXT_CHARS)

    @model_validator(mode="after")
    def _within_bounds(self) -> Any:
        for name in type(self).model_fields:
            v = getattr(self, name)
            if v is None or isinstance(v, (bool, int, BaseModel)):
                continue  # nested models check themselves
            if isinstance(v, (list, tuple)) and v and all(isinstance(x, BaseModel) for x in v):
                if len(v) > MAX_LIST_ITEMS:
                    raise ValueError(f"@{name}|{shown(v)}|at most {MAX_LIST_ITEMS} items")
                continue
            found = first_problem(v, name)
            if found:
                where, what, expected = found
                raise ValueError(f"@{where}|{what.replace('|', '/')}|{expected}")
        return self
