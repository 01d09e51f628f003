"""Lazy public surfaces for the domain's sub-packages (PEP 562).

Each context package lists what other code may use in ``__all__`` and maps every name to the
module that defines it. A name is imported from its module the first time it is read, so that
``import oligotrial.domain.radiotherapy.dose`` does not also load the DVH engine and numpy: a
command pays only for the rooms it enters.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``.

    ``exports`` maps each public name to the sub-module that defines it, relative to the package;
    a public sub-module maps to itself (``{"recist": "recist"}``).
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(f"{package}.{module}")
        return mod if module == name else getattr(mod, name)

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
