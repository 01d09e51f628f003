"""The one real clock: the only module that reads the time of day (besides ``service/ports.py``,
which names the port).

The service context holds a clock (:attr:`oligotrial.service.context.ServiceContext.clock`,
:func:`utc_now` unless a test or a simulated calendar injects another) and passes its date to
the domain, which never reads the time itself. What runs outside a service context (the command
line's defaults, the protocol loader's "current version" when no date is given, a file's age)
reads this module, so that every "today" in the package is the same UTC date. Durations are
measured with ``time.monotonic()``, which is not a clock of the calendar.
"""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """Now, in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


def utc_today() -> dt.date:
    """Today's date in UTC: the date :func:`utc_now` falls on."""
    return utc_now().date()


def epoch_seconds() -> float:
    """Now as seconds since the Unix epoch (the unit of file modification times)."""
    return utc_now().timestamp()
