"""Data queries (discrepancy notes): a question a data manager raises on one field of a
participant's data, answered by the site, closed by the data manager, each step kept. Pure.

The lifecycle is the one electronic data capture systems share:

- REDCap's Data Resolution Workflow: a query is opened on one field of one record, responded
  to, and closed, its whole history kept; the privileges are "view only", "respond only" and
  "open/close/respond" (e.g. data entry: respond only; monitor or project manager: open, close
  and respond) -- University of Wisconsin SMPH, "REDCap: Data Resolution Workflow",
  https://kb.wisc.edu/smph/informatics/121555.
- OpenClinica 4: a query is an inquiry about potential incorrect or missing data with a workflow
  status (New, Updated, Closed, ...); a data manager or monitor closes it -- OpenClinica 4 user
  documentation, "Queries", https://docs.openclinica.com/oc4/help-index/study-runner/submit-data/.
- Oracle Clinical One: "After a site answers a query, you should review their answer, and then
  either close the query (if the answer is acceptable) or reopen the query (if the conversation
  with the site must continue)", with a comment at each step -- "Review a query, and either close
  or re-open it", Oracle Clinical One sponsor/CRO documentation,
  https://docs.oracle.com/en/industries/health-sciences/clinical-one/sponsor-cro-information/review-answered-query-and-either-close-or-reopen-it.html

Here: ``open`` -(answer)-> ``answered`` -(close)-> ``closed``; ``open`` may also be closed
directly (a query raised in error, or resolved by a correction); the data manager re-opens an
``answered`` query (the answer does not resolve it) or a ``closed`` one (the discrepancy is
back); a re-opened query is ``open`` again and waits for a new answer. Each step is a message
of the query's history: action, who, when, text (ICH E6(R3) s.4.2 and 21 CFR 11.10(e): who,
when, what, why).

Blinding: a query is read by every role that handles queries, blinded ones included (an
enrolling oncologist in STOP-2, a masked outcome assessor), and its text is written by people
who may know the arm. What a role that knows the arm writes is withheld from the blinded roles
until it is released (``oligotrial.service.freetext``, issue 25 item 1); :func:`arm_warning`
warns the writer when a text looks like it names an arm (issue 26 item 8: a warning, no longer
a refusal). :func:`arm_mentions` and :func:`check_no_arm` (the refusal) stay for callers that
want the character spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.errors import RecordError, WorkflowError

STATUSES = ("open", "answered", "closed")
#: statuses in which a query still waits for someone (the dashboard's "open data queries")
UNRESOLVED = frozenset({"open", "answered"})
ACTIONS = ("raise", "answer", "close", "reopen")

#: action -> (the statuses it may be taken from, the status it leads to); ``raise`` starts a query
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "raise": (frozenset(), "open"),
    "answer": (frozenset({"open"}), "answered"),
    "close": (frozenset({"open", "answered"}), "closed"),
    "reopen": (frozenset({"answered", "closed"}), "open"),
}

#: the text each action needs: raise, answer and reopen say why; closing may add a note
TEXT_REQUIRED = frozenset({"raise", "answer", "reopen", "release"})
TEXT_MIN = 3
TEXT_MAX = 5000
FIELD_MAX = 200

#: a field path in an entry's data or the registered record: ``grade``, ``findings[0].diameter_mm``
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d{1,4}\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[\d{1,4}\])*)*$")
_WORD = re.compile(r"[a-z0-9_]+")
#: a radiation dose in a text ("8 Gy", "35Gy", "37.5 gy")
_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*c?gy\b", re.IGNORECASE)


def _bad(field: str, value: object, expected: str) -> RecordError:
    shown = value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "..."
    return RecordError(
        f"{field} {shown!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": shown, "expected": expected}],
    )


def next_status(action: str, status: str | None) -> str:
    """The status ``action`` leads to from ``status`` (None: no query yet); otherwise a
    :class:`~oligotrial.errors.WorkflowError` (``illegal_step``) naming both and what was
    expected."""
    if action not in TRANSITIONS:
        raise _bad("action", action, f"one of {', '.join(ACTIONS)}")
    allowed, to = TRANSITIONS[action]
    if action == "raise":
        if status is not None:
            raise WorkflowError(
                f"query: already raised (status {status}); answer, close or re-open it instead",
                code="illegal_step",
                field="status",
            )
        return to
    if status not in allowed:
        raise WorkflowError(
            f"{action}: the query is {status}; expected a query that is {' or '.join(sorted(allowed))}",
            code="illegal_step",
            field="status",
        )
    return to


def actions_from(status: str) -> tuple[str, ...]:
    """The actions a query in ``status`` may take next (regardless of role)."""
    return tuple(a for a in ACTIONS if status in TRANSITIONS[a][0])


def clean_text(action: str, text: object) -> str:
    """The message text of ``action``, stripped; refused (naming ``text``, its value and the
    expectation) when missing where required, too short or too long."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise _bad("text", type(text).__name__, "text")
    t = text.strip()
    if not t and action not in TEXT_REQUIRED:
        return ""
    if not TEXT_MIN <= len(t) <= TEXT_MAX:
        what = {
            "raise": "the question",
            "answer": "the answer",
            "reopen": "why the query is re-opened",
            "close": "a closing note (or nothing)",
            "release": "why the messages may be shown to blinded roles (after review)",
        }.get(action, "the text")
        raise _bad("text", t, f"{what}, {TEXT_MIN}-{TEXT_MAX} characters")
    return t


def clean_field(field: object, known: Iterable[str], where: str) -> str:
    """A field path (``grade``, ``findings[0].diameter_mm``) whose first name is one of ``known``
    (the fields of ``where``: an entry's kind, or the registered record). A query may be about
    a value that is missing, so the path need not exist in the data."""
    if not isinstance(field, str) or not field.strip():
        raise _bad("field", field, "the field the query is about, e.g. grade or findings[0].diameter_mm")
    f = field.strip()
    if len(f) > FIELD_MAX or not _FIELD.match(f):
        raise _bad(
            "field",
            f,
            f"a field path of at most {FIELD_MAX} characters: names joined by '.', "
            "list positions in brackets (findings[0].diameter_mm)",
        )
    head = re.split(r"[.\[]", f, maxsplit=1)[0]
    names = sorted(known)
    if head not in names:
        raise _bad("field", f, f"a field of {where}: one of {', '.join(names)}")
    return f


@dataclass(frozen=True)
class ArmTerms:
    """What names an arm of one trial in free text: arm ids (as words), arm labels, the names of
    each arm's radiotherapy and its regimens, the techniques only some arms use (as words), and
    whether the arms differ by dose (then any dose in Gy tells the arm)."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    words: tuple[str, ...] = ()
    doses_differ: bool = False


def arm_mentions(text: str, terms: ArmTerms) -> list[tuple[int, int]]:
    """Where ``text`` carries arm information: the (start, end) character spans, in order (empty:
    none).

    :func:`oligotrial.domain.trial.blinding.find_arm_information` catches a text that *is* an arm
    id or *contains* an arm label; free text also names an arm in passing ("the sabr course"), so
    arm ids and arm-specific techniques are looked for as words, arm radiotherapy and regimen
    names as phrases, and a dose ("8 Gy") when the arms differ by dose."""
    low = text.lower()
    spans: set[tuple[int, int]] = set()
    for phrase in (*terms.labels, *(w for w in terms.words if not _WORD.fullmatch(w.lower()))):
        p = phrase.lower()
        if len(p) >= 4:
            spans.update((m.start(), m.end()) for m in re.finditer(re.escape(p), low))
    wanted = {w.lower() for w in (*terms.ids, *terms.words) if _WORD.fullmatch(w.lower())}
    spans.update((m.start(), m.end()) for m in _WORD.finditer(low) if m.group() in wanted)
    if terms.doses_differ:
        spans.update((m.start(), m.end()) for m in _DOSE.finditer(text))
    if not spans and find_arm_information(text, terms.ids, terms.labels):
        spans.add((0, len(text)))
    return sorted(spans)


def check_no_arm(text: str, terms: ArmTerms | None, trial: str) -> None:
    """Refuse a query text that names an arm in a trial that blinds any role (``terms`` None: the
    trial blinds no one). The error names the field and where in it the arm is named, and does
    not repeat the words (the message may reach a blinded role)."""
    if terms is None or not text:
        return
    spans = arm_mentions(text, terms)
    if spans:
        where = ", ".join(f"{a + 1}-{b}" for a, b in spans[:3])
        expected = (
            "a text that names no arm, regimen or dose: every role that handles queries reads it, blinded ones included"
        )
        raise RecordError(
            f"text: characters {where} name an arm, its regimen or its dose in trial {trial}; expected {expected}",
            code="arm_in_text",
            field="text",
            errors=[{"path": "text", "value": f"characters {where}", "expected": expected}],
        )


def arm_terms(protocol: object) -> ArmTerms | None:
    """The :class:`ArmTerms` of a protocol (``oligotrial.domain.protocol`` schema: ``arms``, each with
    ``id``, ``label`` and an optional ``radiotherapy`` with ``name`` and ``regimens``), or None
    when the protocol blinds no role (``masking.blinded_roles`` empty): then anyone may read the
    arm and a query may name it."""
    if not list(getattr(getattr(protocol, "masking", None), "blinded_roles", None) or []):
        return None
    arms = list(getattr(protocol, "arms", []) or [])
    phrases: list[str] = []
    techniques: list[set[str]] = []
    doses: set[tuple[float | None, float | None]] = set()
    for arm in arms:
        rt = getattr(arm, "radiotherapy", None)
        used: set[str] = set()
        if rt is not None:
            phrases.append(rt.name)
            for reg in rt.regimens:
                phrases.append(reg.label)
                used.update(t.lower() for t in (getattr(reg, "techniques", None) or []))
                dose = getattr(reg, "total_dose_gy", None)
                doses.add((getattr(dose, "min", None), getattr(dose, "max", None)))
        techniques.append(used)
    shared = set.intersection(*techniques) if techniques else set()
    own = sorted(set().union(*techniques) - shared) if techniques else []
    # a name with a parenthesis ("Stereotactic ablative radiotherapy (SABR)") is also written without it
    stems = [p.split(" (")[0] for p in phrases if " (" in p and len(p.split(" (")[0]) >= 8]
    # an arm without radiotherapy (NCT06592612's control arm) makes any dose tell the arm
    without_rt = any(getattr(arm, "radiotherapy", None) is None for arm in arms)
    return ArmTerms(
        ids=tuple(a.id for a in arms),
        labels=tuple(a.label for a in arms),
        words=tuple(dict.fromkeys([*phrases, *stems, *own])),
        doses_differ=len(arms) > 1 and (len(doses) > 1 or without_rt),
    )


# ---- the arm-word warning -------------------------------------------------------------------------
#
# Free text written by a role that knows the arm is withheld from blinded roles whatever it says
# (:func:`oligotrial.domain.trial.blinding.withhold_text`); the check below only *warns* the
# writer when the text looks like it names an arm, so that the writer can say it otherwise and
# the data manager knows what to look at before releasing it. It looks through the usual ways a
# word slips past a plain search: letters spaced or dotted out ("S A B R", "s.a.b.r"), case,
# compatibility forms (full-width "ＳＡＢＲ", mathematical letters: Unicode NFKC), letters of
# other scripts that look Latin (Cyrillic "ЅАВR"), invisible characters (zero-width space,
# soft hyphen: Unicode format characters), and doses and fractionations written in digits or
# words ("8Gy", "eight gray", "single fraction", "five fractions", "5 x 7 Gy", "35 Gy in 5").

#: letters of other scripts drawn like Latin ones (Unicode TR39 confusables, the common ones)
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "і": "i",
        "ј": "j",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ɡ": "g",
        "А": "a",
        "В": "b",
        "Е": "e",
        "К": "k",
        "М": "m",
        "Н": "h",
        "О": "o",
        "Р": "p",
        "С": "c",
        "Т": "t",
        "У": "y",
        "Х": "x",
        "Ѕ": "s",
        "І": "i",
        "Ј": "j",
        "Ԍ": "g",
        # Greek
        "Α": "a",
        "Β": "b",
        "Ε": "e",
        "Ζ": "z",
        "Η": "h",
        "Ι": "i",
        "Κ": "k",
        "Μ": "m",
        "Ν": "n",
        "Ο": "o",
        "Ρ": "p",
        "Τ": "t",
        "Υ": "y",
        "Χ": "x",
        "α": "a",
        "ο": "o",
        "ρ": "p",
        "ν": "v",
        "ι": "i",
        "κ": "k",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)

_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "single",
    "half",
)
_NUM = (
    r"(?:\d+(?:[.,]\d+)?|(?:"
    + "|".join(_NUMBER_WORDS)
    + r")(?:[\s-]+(?:and[\s-]+)?(?:"
    + "|".join(_NUMBER_WORDS)
    + r"))*)"
)
#: a dose, a number of fractions, a fractionation: each reveals the arm where the arms differ by dose
_DOSE_PATTERNS = (
    re.compile(r"\b" + _NUM + r"\s*(?:c?gy|grays?|centigrays?)\b"),  # 8 Gy, 8Gy, eight gray
    re.compile(r"\b" + _NUM + r"\s*-?\s*(?:fractions?|fx|fr|fractionated)\b"),  # five fractions, 1 fx
    re.compile(r"\b\d+(?:[.,]\d+)?\s*[x×*]\s*\d+(?:[.,]\d+)?\b(?!\s*(?:mm|cm|m|ml)\b)"),  # 5 x 7, not 3 x 2 cm
    re.compile(r"\b(?:hypo)?fractionat\w*\b|(?<!ejection )\bfractions?\b"),  # not "ejection fraction"
    re.compile(r"\b(?:stereotactic|ablative|radiosurgery)\b"),
)


def normalize_text(text: str) -> str:
    """``text`` as the warning reads it: Unicode NFKC (compatibility forms), format characters
    (zero-width, soft hyphen, direction marks) removed, look-alike letters of other scripts
    mapped to Latin, case folded, every run of non-alphanumerics one space, and letters spaced
    or dotted out one by one ("s a b r", "s.a.b.r") joined into one word."""
    import unicodedata

    t = unicodedata.normalize("NFKC", text)
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Cf")
    t = t.translate(_HOMOGLYPHS).casefold()
    t = unicodedata.normalize("NFKD", t)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"[^0-9a-z×.,*]+", " ", t)
    t = re.sub(r"(?<!\d)[.,]|[.,](?!\d)", " ", t)  # a point or comma stays only inside a number
    # single letters separated by spaces or dots, three or more of them: one word ("s a b r")
    t = re.sub(r"\b(?:[a-z][\s.]+){2,}[a-z]\b", lambda m: re.sub(r"[\s.]", "", m.group()), t)
    return re.sub(r"\s+", " ", t).strip()


def arm_words(text: str, terms: ArmTerms | None) -> list[str]:
    """What in ``text`` looks like it names an arm of the trial of ``terms`` (None: the trial
    blinds no one, nothing to warn about), as read by :func:`normalize_text`: arm ids and
    arm-specific techniques as words, arm labels and radiotherapy and regimen names as phrases
    (each also without spaces: "sa br"), and, where the arms differ by dose, any dose or
    fractionation. Returns the normalized words found, in order; empty: no warning."""
    if terms is None or not text:
        return []
    norm = normalize_text(text)
    squashed_words = norm.replace(" ", "")
    found: list[tuple[int, str]] = []
    words = {w.lower() for w in (*terms.ids, *terms.words) if _WORD.fullmatch(w.lower())}
    for m in re.finditer(r"[a-z0-9_]+", norm):
        if m.group() in words:
            found.append((m.start(), m.group()))
    stems = [lab.split(" (")[0] for lab in terms.labels if " (" in lab]  # "Experimental Arm (SABR)"
    for phrase in (*terms.labels, *stems, *(w for w in terms.words if not _WORD.fullmatch(w.lower()))):
        p = normalize_text(phrase)
        if len(p) >= 4:
            at = norm.find(p)
            if at >= 0:
                found.append((at, p))
            elif len(p.replace(" ", "")) >= 8 and p.replace(" ", "") in squashed_words:
                found.append((len(norm), p))
    if terms.doses_differ:
        for pat in _DOSE_PATTERNS:
            found += [(m.start(), m.group()) for m in pat.finditer(norm)]
    return list(dict.fromkeys(w for _at, w in sorted(found)))


def arm_warning(text: str, terms: ArmTerms | None, field: str = "text") -> str | None:
    """The warning shown to the writer (and to no one else: it is returned, never stored) when
    ``text`` looks like it names an arm: which words, and that the text is withheld from the
    trial's blinded roles until a data manager who sees the arm releases it. None: nothing found."""
    hits = arm_words(text, terms)
    if not hits:
        return None
    shown = ", ".join(repr(h) for h in hits[:5])
    return (
        f"{field}: {shown} may name an arm, its regimen or its dose; blinded roles read "
        "'withheld: written by an unblinded role' in its place until it is released after review "
        "(say it without naming the arm if you can)"
    )
