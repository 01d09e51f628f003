"""``oligotrial design sample-size`` loads only what it uses: not numba, lifelines or
scipy.stats (issue: ~1.1 s of imports for an 85 us calculation). Start-up time itself is measured
by ``benchmarks/bench_cli_startup.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numba", "lifelines", "scipy.stats", "dask", "matplotlib", "sqlalchemy", "fastapi")


def _modules_after(args: list[str]) -> tuple[dict, set[str]]:
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from oligotrial.adapters.cli.main import app\n"
        f"r = CliRunner().invoke(app, {args!r})\n"
        "print(json.dumps({'code': r.exit_code, 'out': r.output, 'mods': sorted(sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return doc, set(doc["mods"])


def test_sample_size_imports_no_heavy_library_and_still_answers():
    doc, mods = _modules_after(["design", "sample-size", "--hazard-ratio", "0.6", "--json"])
    assert doc["code"] == 0, doc["out"]
    loaded = sorted(m for m in HEAVY if m in mods)
    assert loaded == [], f"design sample-size imported {loaded}"
    assert json.loads(doc["out"])["events"] > 0


def test_the_check_sees_a_heavy_import_when_there_is_one():
    # the simulator does use numba: the same check finds it, so the test above is not vacuous
    code = "import sys; from oligotrial.stats import simulate_trials; print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout.strip() == "True"
