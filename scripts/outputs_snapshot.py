"""Write every user-facing output of oligotrial for a fixed input set into one directory, so that
a refactor can be shown to change none of them (``diff -r before/ after/``).

What it writes (issue 27's acceptance list):

- ``protocols/<ID>.json``: ``oligotrial protocols show ID --json`` for every shipped protocol;
- ``screen/examples.json`` and ``screen/synthetic.json``: ``oligotrial screen --json`` of the shipped
  examples and of a seeded 2,000-record synthetic registry (``benchmarks/synthetic_registry.py``);
- ``assess/<example>.<criteria>.json``: ``oligotrial assess --json`` of every example, by RECIST 1.1
  and iRECIST;
- ``endpoints/<example>.<trial>.json``: ``oligotrial endpoints --json`` of every example against
  every trial;
- ``demo/<trial>/``: for each of the five trials, ``oligotrial demo`` (fixed ``--seed`` and
  ``--list-seed``), then ``report.json``, ``export adtte`` and ``export adrs`` of its database;
- ``api/<role>/<route>.json``: the JSON of every ``GET /api/v1`` route on the STOP-2 demo, for an
  administrator and for a blinded role (path parameters taken from the demo's own data).

A command's exit status and its standard error are written beside its output, so an error that
changes is a difference too. Run from the repository root::

    python scripts/outputs_snapshot.py --out /tmp/before   # on the old tree
    python scripts/outputs_snapshot.py --out /tmp/after    # on the new one
    diff -r /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIALS = ["NCT06523673", "NCT07014202", "NCT05906329", "NCT06592612", "NCT06918951"]
AS_OF = "2026-06-01"


def cli(args: list[str], out: Path, env: dict[str, str] | None = None) -> None:
    """Run ``oligotrial ARGS``; keep its stdout in ``out`` and its status and stderr beside it."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv[0] = 'oligotrial'; from oligotrial.adapters.cli.main import main; main()",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=ROOT,
        check=False,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(proc.stdout)
    if proc.returncode != 0 or proc.stderr.strip():
        out.with_suffix(out.suffix + ".status").write_text(f"exit {proc.returncode}\n{proc.stderr}")


def examples() -> list[Path]:
    return sorted((ROOT / "src/oligotrial/examples").glob("*.json"))


def protocols_and_records(out: Path, n_synthetic: int) -> None:
    for t in TRIALS:
        cli(["protocols", "show", t, "--json"], out / "protocols" / f"{t}.json")
    cli(["screen", "--examples", "--json", "--as-of", AS_OF], out / "screen" / "examples.json")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from synthetic_registry import make_record

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n_synthetic):
            (Path(tmp) / f"syn{i:05d}.json").write_text(json.dumps(make_record(20261121, i)))
        cli(["screen", tmp, "--json", "--as-of", AS_OF, "--workers", "2"], out / "screen" / "synthetic.json")
        cli(
            ["screen", tmp, "--json", "--compact", "--as-of", AS_OF, "--workers", "2"],
            out / "screen" / "synthetic-compact.json",
        )
    for ex in examples():
        for criteria in ("recist1.1", "irecist"):
            cli(["assess", str(ex), "--json", "--criteria", criteria], out / "assess" / f"{ex.stem}.{criteria}.json")
        for t in TRIALS:
            cli(["endpoints", str(ex), "--trial", t, "--json"], out / "endpoints" / f"{ex.stem}.{t}.json")
            cli(
                ["endpoints", str(ex), "--trial", t, "--json", "--start", "2024-01-15"],
                out / "endpoints" / f"{ex.stem}.{t}.start.json",
            )


def demo_env(d: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (d / "oligotrial.env").read_text().splitlines() if "=" in line)


def demos(out: Path, work: Path, patients: int) -> Path:
    for t in TRIALS:
        d = work / t
        cli(
            ["demo", "--trial", t, "--patients", str(patients), "--seed", "7", "--list-seed", "7", "--out", str(d)],
            out / "demo" / t / "demo.txt",
        )
        env = demo_env(d)
        report = d / "report.json"
        (out / "demo" / t / "report.json").write_text(report.read_text() if report.exists() else "")
        for ds in ("adtte", "adrs"):
            cli(["export", ds, "--trial", t, "--out", str(d / f"{ds}.csv")], out / "demo" / t / f"{ds}.txt", env)
            csv = d / f"{ds}.csv"
            (out / "demo" / t / f"{ds}.csv").write_text(csv.read_text() if csv.exists() else "")
    # the demo's printed text names its own output directory: keep it out of the comparison
    for f in (out / "demo").rglob("demo.txt"):
        f.write_text(f.read_text().replace(str(work), "WORK"))
    return work / "NCT06918951"


def api(out: Path, d: Path) -> None:
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings

    env = demo_env(d)
    settings = Settings(**{k.removeprefix("OLIGOTRIAL_").lower(): v for k, v in env.items()})
    client = TestClient(create_app(bootstrap(settings)))
    accounts = {}
    for line in (d / "demo-users.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            username, role, password = line.split()
            accounts[role] = (username, password)
    spec = client.get("/openapi.json").json()
    (out / "api").mkdir(parents=True, exist_ok=True)
    for role, (username, password) in sorted(accounts.items()):
        tok = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        if tok.status_code != 200:
            (out / "api" / f"{role}.token.txt").write_text(f"{tok.status_code} {tok.text}")
            continue
        headers = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        params = {"trial": "NCT06918951"}
        parts = client.get("/api/v1/trials/NCT06918951/participants", headers=headers)
        if parts.status_code == 200 and parts.json():
            body = parts.json()
            rows = body if isinstance(body, list) else next((v for v in body.values() if isinstance(v, list)), [])
            if rows:
                params["pid"] = rows[0].get("id") or rows[0].get("participant_id")
        qs = client.get("/api/v1/trials/NCT06918951/queries", headers=headers)
        if qs.status_code == 200:
            body = qs.json()
            rows = body if isinstance(body, list) else next((v for v in body.values() if isinstance(v, list)), [])
            if rows:
                params["query_id"] = str(rows[0].get("id"))
        params.setdefault("query_id", "1")
        params["dataset"] = "adtte"
        for path, ops in sorted(spec["paths"].items()):
            if "get" not in ops or not path.startswith("/api/"):
                continue
            names = re.findall(r"{(\w+)}", path)
            if any(n not in params for n in names):
                (out / "api" / role / "_skipped.txt").parent.mkdir(parents=True, exist_ok=True)
                with open(out / "api" / role / "_skipped.txt", "a") as fh:
                    fh.write(path + "\n")
                continue
            url = path
            for n in names:
                url = url.replace("{" + n + "}", str(params[n]))
            r = client.get(url, headers=headers)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.strip("/")) + ".txt"
            f = out / "api" / role / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{r.status_code} {r.headers.get('content-type')}\n{r.text}")


#: a random id or digest: 12+ hex digits with a letter, not the digits of a number (``1.5e-05``)
HEX = re.compile(r"(?<![\d.])\b(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b(?![-+]\d)")
TMP = re.compile(r"/tmp/[A-Za-z0-9_.-]+")


def participant_ids(work: Path) -> dict[str, str]:
    """Each demo participant's random id -> ``P:<trial>:<external id>`` (stable across runs)."""
    import sqlite3

    ids: dict[str, str] = {}
    for db in sorted(work.glob("*/trial.db")):
        with sqlite3.connect(db) as con:
            for pid, trial, ext in con.execute("select id, trial, external_id from participants"):
                ids[pid] = f"P:{trial}:{ext}"
    return ids


def canonical(value: object) -> object:
    """Lists sorted by their JSON text: the order random participant ids decide is not compared."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def normalise(out: Path, ids: dict[str, str]) -> None:
    """What differs from run to run with the same seeds, taken out of the comparison: participant
    ids (uuid4, replaced by trial and external id), audit nonces and the hashes and report ids
    that cover them, temporary paths, elapsed times, where the periodic checkpoint fell, and the
    order of rows that random ids decide (JSON lists and CSV rows sorted). What is left is
    compared byte for byte."""
    pid = re.compile("|".join(map(re.escape, sorted(ids, key=len, reverse=True)))) if ids else None
    for f in sorted(out.rglob("*")):
        if not f.is_file():
            continue
        text = f.read_text()
        if pid is not None:
            text = pid.sub(lambda m: ids[m.group(0)], text)
        text = HEX.sub("<hex>", TMP.sub("TMP", text.replace(str(ROOT), "ROOT")))
        text = re.sub(r"\b\d+:\d\d:\d\d\b", "H:MM:SS", text)
        # the demo's study clock moves a microsecond each time it is read: how often it is read is
        # not an output (what it stamps to the second is)
        text = re.sub(r"(T\d\d:\d\d:\d\d)\.\d{6}", r"\1.ffffff", text)
        text = re.sub(r'"checkpoint_seq": ?\d+', '"checkpoint_seq":N', text)
        head, sep, body = text.partition("\n") if f.parent.parent.name == "api" else ("", "", text)
        try:
            body = json.dumps(canonical(json.loads(body)), indent=1, sort_keys=False)
        except ValueError:
            lines = body.splitlines()
            body = "\n".join(lines[:1] + sorted(lines[1:]))
        f.write_text(head + sep + body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--synthetic", type=int, default=2000, help="records in the synthetic registry")
    ap.add_argument("--patients", type=int, default=40, help="candidates of each demo")
    ap.add_argument("--only", choices=["records", "demos"], help="one half only")
    ap.add_argument("--normalise-only", action="store_true", help="normalise an earlier --out again")
    args = ap.parse_args()
    if args.normalise_only:
        normalise(args.out, {})
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only != "demos":
        protocols_and_records(args.out, args.synthetic)
    ids: dict[str, str] = {}
    if args.only != "records":
        with tempfile.TemporaryDirectory() as work:
            api(args.out, demos(args.out, Path(work), args.patients))
            ids = participant_ids(Path(work))
    normalise(args.out, ids)


if __name__ == "__main__":
    main()
