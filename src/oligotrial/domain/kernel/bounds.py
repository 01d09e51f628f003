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
import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
        return (
            f"valid Unicode text: a lone UTF-16 surrogate U+{ord(text[exc.start]):04X} at character "
            f"{exc.start} has no encoding"
        )
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


def problems(
    value: Any, path: str = "", *, max_depth: int = MAX_DEPTH, max_items: int = MAX_LIST_ITEMS
) -> Iterator[tuple[str, str, str]]:
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


#: the pattern a text field matches: no NUL character (a lone surrogate is refused by pydantic's
#: own string validation, which cannot decode it: error type ``string_unicode``)
NO_NUL = r"^[^\x00]*$"
_Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
#: a date from :data:`EARLIEST_DATE` to :data:`LATEST_DATE`
BoundedDate = Annotated[dt.date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]


def _bounded_type(annotation: Any) -> Any:
    """``annotation`` with every ``str`` bounded (no NUL), every ``date`` in range and every list
    at most :data:`MAX_LIST_ITEMS` long (a field's own ``max_length`` still wins); literals,
    numbers and nested models as they are (``allow_inf_nan`` refuses non-finite floats, a nested
    model bounds itself)."""
    if annotation is str:
        return _Text
    if annotation is dt.date:
        return BoundedDate
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return Annotated[(_bounded_type(args[0]), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_bounded_type(a) for a in args)]  # noqa: UP007 - built from a tuple
    if origin is list:
        # types.GenericAlias(list, (x,)) is list[x], built at run time (a checker reads list[...] as a type)
        return Annotated[types.GenericAlias(list, (_bounded_type(args[0]),)), MaxLen(MAX_LIST_ITEMS)]
    if origin is dict:
        return types.GenericAlias(dict, (_bounded_type(args[0]), _bounded_type(args[1])))
    return annotation


class BoundedModel(BaseModel):
    """Base of every input model: floats finite (``allow_inf_nan=False``), text valid Unicode
    (pydantic refuses a lone surrogate), without NUL and at most :data:`MAX_TEXT_CHARS`
    characters unless the field says less, dates from :data:`EARLIEST_DATE` to
    :data:`LATEST_DATE`, lists at most :data:`MAX_LIST_ITEMS` long. The bounds are pydantic's
    own constraints, added to each subclass's field types when the class is made (no Python
    runs per value); :func:`bound_expectation` words their errors."""

    # defer_build: each class's schema is built once, by __pydantic_init_subclass__, with the bounds
    model_config = ConfigDict(allow_inf_nan=False, str_max_length=MAX_TEXT_CHARS, defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for field in cls.model_fields.values():
            field.annotation = _bounded_type(field.annotation)
        cls.model_rebuild(force=True)


def bound_expectation(err: Any) -> str | None:
    """What a pydantic error raised by these bounds expected, in words, or None for any other."""
    kind = err.get("type")
    ctx = err.get("ctx") or {}
    if kind == "string_unicode":
        return "valid Unicode text: a lone UTF-16 surrogate (U+D800-U+DFFF) has no encoding"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NO_NUL:
        return "text without the NUL character U+0000"
    if kind == "finite_number":
        return "a finite number (NaN and Infinity are not numbers in JSON)"
    if kind in ("less_than_equal", "greater_than_equal") and str(ctx.get("le", ctx.get("ge"))) in (
        EARLIEST_DATE.isoformat(),
        LATEST_DATE.isoformat(),
    ):
        return f"a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"
    return None
