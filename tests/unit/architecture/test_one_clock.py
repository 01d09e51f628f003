"""Issue 27 item 2: one clock. Only the clock module (a file named ``clock.py``) and the ports
(``ports.py``) read the time of day; the service context carries the clock and passes its date to
the domain. Anywhere else in ``src/oligotrial`` (the domain, the protocol loader, the service, the
adapters: tokens, sessions, the throttle, the command line's defaults), ``date.today()``,
``datetime.now(``, ``datetime.utcnow(`` and ``time.time()`` are refused, unless the line says why
with ``# clock-exempt: <reason>``. Durations use ``time.monotonic()``, which is not a calendar."""

from __future__ import annotations

import re
from pathlib import Path

import oligotrial

SRC = Path(oligotrial.__file__).parent
#: the ways of reading the time of day
CLOCK_READS = re.compile(r"\bdate\.today\(\)|\bdatetime\.now\(|\bdatetime\.utcnow\(|\btime\.time\(\)|\btime\.time_ns\(")
#: the files that may read it
CLOCK_FILES = {"clock.py", "ports.py"}
EXEMPT = re.compile(r"#\s*clock-exempt:\s*\S")


def clock_violations(filename: str, source: str) -> list[str]:
    """``filename:line: text`` for each line of ``source`` that reads the clock outside the clock
    module and the ports without a ``# clock-exempt: <reason>`` comment."""
    if Path(filename).name in CLOCK_FILES:
        return []
    return [
        f"{filename}:{n}: {line.strip()}"
        for n, line in enumerate(source.splitlines(), 1)
        if CLOCK_READS.search(line) and not EXEMPT.search(line)
    ]


def test_only_the_clock_module_and_the_ports_read_the_time_of_day():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 100 and any(f.parts[-2:] == ("oligotrial", "clock.py") for f in files)
    bad = [v for f in files for v in clock_violations(str(f.relative_to(SRC)), f.read_text(encoding="utf-8"))]
    assert not bad, "read the time through the service context's clock or oligotrial.clock:\n" + "\n".join(bad)


def test_each_exemption_gives_its_reason():
    exempt = [
        f"{f.relative_to(SRC)}:{n}"
        for f in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if "clock-exempt" in line and CLOCK_READS.search(line)
    ]
    assert len(exempt) <= 1, exempt  # the domain's one fallback: parse_patient without a caller's today
    for where in exempt:
        path, n = where.rsplit(":", 1)
        assert EXEMPT.search((SRC / path).read_text().splitlines()[int(n) - 1]), where


def test_the_check_catches_a_planted_violation():
    planted = {
        "import datetime as dt\nday = dt.date.today()\n": 1,
        "from datetime import datetime\nnow = datetime.now(tz)\n": 1,
        "import datetime\nnow = datetime.datetime.utcnow()\n": 1,
        "import time\nexp = int(time.time()) + 60\n": 1,
        "import time\nt = time.time_ns()\n": 1,
        "import datetime as dt\nday = dt.date.today()  # clock-exempt:\n": 1,  # a reason is required
    }
    for source, n in planted.items():
        assert len(clock_violations("oligotrial/adapters/web/security.py", source)) == n, source
    # what is allowed: the clock module, the ports, a marked exception, a duration, the service clock
    assert clock_violations("oligotrial/clock.py", "now = dt.datetime.now(dt.UTC)\n") == []
    assert clock_violations("oligotrial/service/ports.py", "now = dt.datetime.now(dt.UTC)\n") == []
    assert clock_violations("x.py", "day = dt.date.today()  # clock-exempt: a reason\n") == []
    assert clock_violations("x.py", "t0 = time.monotonic()\nday = ctx.today()\nnow = ctx.clock()\n") == []
