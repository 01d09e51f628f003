"""The registries' own words in tests: :func:`quoted` checks that a test's quotation stands in the
verbatim registry text kept in ``tests/data/seeds`` (whitespace and escapes normalised), so a test
that says it enforces "the registry's words" really quotes them."""

from __future__ import annotations

import re
from pathlib import Path

SEEDS = Path(__file__).parents[1] / "data" / "seeds"
#: the seed file of each trial
OPPRESS, ORES, LDRT, HCC, STOP2 = ("000_b539856bedf10865.txt", "001_ab9ba1188b9ed105.txt",
                                   "002_04f502fd2d1a9b0e.txt", "003_e100751488679964.txt",
                                   "004_1a85a1e1afd5534b.txt")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\", "")).strip()


def quoted(seed: str, words: str) -> str:
    """``words`` as the registry has them; fails the test otherwise."""
    assert _norm(words) in _norm((SEEDS / seed).read_text(encoding="utf-8")), words
    return words
