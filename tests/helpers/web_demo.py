"""The web interface's test fixtures: a small demo database (``oligotrial demo``, STOP-2 unless
said) with an account for every role, the app on it, signing in through the sign-in form, and a real HTTP
server in a thread (for the browser)."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from oligotrial.domain.trial.blinding import ROLES

#: the password of the accounts added to the demo's own (the roles the demo has no account for)
EXTRA_PASSWORD = "web-test-password-1"


@dataclass
class WebDemo:
    out: Path
    settings: object
    container: object
    trial: str
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (username, password)
    twins: dict[str, str] = field(default_factory=dict)  # arm -> participant (add_twins)


#: (trial, patients, seed) -> a pristine copy of what ``oligotrial demo`` wrote, for this session
_MADE: dict[tuple[str, int, int], Path] = {}


def _copy_demo(src: Path, dst: Path) -> None:
    """Copy a demo's folder (its SQLite database with its WAL, audit keys, settings), the paths in
    its settings pointed at the copy. The database names its first folder only in the audit entry
    of the report the command wrote (that folder stays), so the copy is the command's output."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    env = dst / "oligotrial.env"
    env.write_text(env.read_text().replace(str(src), str(dst)))


@atexit.register
def _forget_demos() -> None:
    for keep in _MADE.values():
        shutil.rmtree(keep.parent, ignore_errors=True)


def build(out: Path, patients: int = 8, seed: int = 5, trial: str = "STOP-2", clock=None) -> WebDemo:
    """``oligotrial demo --trial TRIAL`` (STOP-2 unless said) into ``out``, plus an account for
    each role the demo leaves out (the enrolling oncologist, an administrator of every trial);
    the server's clock is ``clock`` where given (a test that lives through a trial's calendar).
    The command runs once per (trial, patients, seed) in a session: a later build copies its
    output (about 5 s of CPU each for the modules that build the same demo)."""
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.service import users

    # the list seed fixed too (the command draws a secret one by default): the same demo every run
    key = (trial, patients, seed)
    if key in _MADE:  # the same command ran earlier in this session: its output, copied
        _copy_demo(_MADE[key], out)
    else:
        res = CliRunner().invoke(app, ["demo", "--trial", trial, "--patients", str(patients), "--seed", str(seed),
                                       "--list-seed", str(seed), "--out", str(out)])
        assert res.exit_code == 0, res.output
        keep = Path(tempfile.mkdtemp(prefix="oligotrial-demo-")) / "demo"
        _copy_demo(out, keep)
        _MADE[key] = keep
    env = dict(line.split("=", 1) for line in (out / "oligotrial.env").read_text().splitlines() if "=" in line)
    settings = Settings(**{k.removeprefix("OLIGOTRIAL_").lower(): v for k, v in env.items()})
    container = bootstrap(settings, clock=clock)
    trial = container.ctx.load_protocol(trial).id
    accounts = {}
    for line in (out / "demo-users.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            username, role, password = line.split()
            accounts[role] = (username, password)
    for role in ROLES:
        if role not in accounts:
            username = f"web-{role.replace('_', '-')}"
            users.add_user(container.ctx, username, EXTRA_PASSWORD, role, "*" if role == "admin" else trial)
            accounts[role] = (username, EXTRA_PASSWORD)
    return WebDemo(out, settings, container, trial, accounts)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(client, username: str, password: str):
    """Sign in through the form as a browser would (a fresh browser: no earlier session); the
    response after the redirect."""
    client.cookies.clear()
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)})


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start in 20 s"
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class _TwinClock:
    """The clock of the twins' lives: set to each step's day (09:00 UTC), a microsecond per call."""

    def __init__(self, day) -> None:
        import datetime as dt
        self.now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)

    def __call__(self):
        import datetime as dt
        self.now += dt.timedelta(microseconds=1)
        return self.now

    def set(self, day) -> None:
        import datetime as dt
        self.now = max(self.now, dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))


def add_twins(demo: WebDemo) -> dict[str, str]:
    """Add to ``demo`` one participant per arm who live the same life: the record of a randomized
    demo participant (its id changed), screened, consented, enrolled and randomized on the same
    days; radiotherapy on day 7 after randomization where the arm gives it (each arm's own course,
    as the demo draws it, recorded by the treating oncologist); every visit whose window has opened
    done on its target day; the same quality of life at baseline, the same adverse event on day 30
    (attributed to the radiotherapy where there was one) and the same tumour assessment (the
    masked assessor's) at the first imaging visit. Whatever a masked role sees differently of the
    two is the arm. Returns arm id -> participant id."""
    import datetime as dt

    import numpy as np

    from oligotrial.bootstrap import bootstrap
    from oligotrial.errors import DoseError
    from oligotrial.service import enrolment, followup, randomization
    from oligotrial.service.demo import _regimen_course
    from oligotrial.service.demo_cohort import qol_answers
    from oligotrial.service.ports import Actor

    t = demo.trial
    protocol = demo.container.ctx.load_protocol(t)
    coord, radonc = Actor("twin-coordinator", {t: "coordinator"}), Actor("twin-radonc", {t: "treating_oncologist"})
    dm, assessor = Actor("twin-data-manager", {t: "data_manager"}), Actor("twin-assessor", {t: "outcome_assessor"})
    source = next(v for v in (enrolment.get_participant(demo.container.ctx, coord, t, r["id"])
                              for r in enrolment.list_participants(demo.container.ctx, coord, t))
                  if v.get("allocation"))
    d0 = dt.date.fromisoformat(source["screening"]["as_of"][:10])
    today = demo.container.ctx.today()
    clock = _TwinClock(d0)
    c = bootstrap(demo.settings, clock=clock)
    ctx = c.ctx
    day = lambda n: d0 + dt.timedelta(days=n)
    try:
        twins: dict[str, str] = {}
        n = 0
        while len(twins) < len(protocol.arms):
            n += 1
            assert n <= 40, f"the randomization list gave no participant of every arm in 40: {twins}"
            clock.set(day(0))
            record = {**source["record"], "id": f"TWIN-{n:02d}"}
            pid = enrolment.register(ctx, coord, t, record, site=source["site"])["id"]
            view = enrolment.screen(ctx, coord, t, pid, on=day(0).isoformat())
            clock.set(day(2))
            enrolment.consent(ctx, coord, t, pid, {"date": day(2).isoformat(), "form_version": "v1.0"})
            clock.set(day(3))
            over = {} if view["screening"]["verdict"] == "eligible" else {"override": {"reason": "twin of a demo participant"}}
            enrolment.enrol(ctx, coord, t, pid, over)
            eq, c30 = qol_answers(np.random.default_rng(11), 0.7)
            for inst, resp in (("EQ-5D-5L", eq), ("EORTC QLQ-C30", c30)):
                followup.record_entry(ctx, dm, t, pid, "qol", {"date": day(3).isoformat(), "instrument": inst,
                                                               "responses": resp})
            clock.set(day(4))
            randomization.randomize(ctx, coord, t, pid, {})
            arm = randomization.arm_of(ctx, t, pid)
            twins.setdefault(arm, pid)
        origin = day(4)
        lesions = [x["id"] for x in source["record"].get("lesions", [])]
        clock.set(origin + dt.timedelta(days=7))
        for arm, pid in twins.items():
            course = _regimen_course(protocol, arm)
            if course is not None:
                start = (origin + dt.timedelta(days=7)).isoformat()
                n = int(course.get("fractions") or 1) - 1  # the last fraction at the earliest date (5 a week)
                end = (origin + dt.timedelta(days=7 + 7 * (n // 5) + n % 5)).isoformat()
                data = {**course, "start": start, "end": end, "lesions": lesions[:5]}
                try:
                    enrolment.record_radiotherapy(ctx, radonc, t, pid, data)
                except DoseError:  # an arm that treats one lesion: the first (as the demo)
                    enrolment.record_radiotherapy(ctx, radonc, t, pid, {**data, "lesions": lesions[:1]})
        # the rest of both lives in calendar order: the adverse event, each visit, the first scan
        steps = []
        for pid in twins.values():
            steps.append((origin + dt.timedelta(days=30), 0, pid, None))
            for v in enrolment.get_participant(ctx, coord, t, pid)["visits"]:
                steps.append((dt.date.fromisoformat(v["target"]), 1, pid, v))
        assessed: set[str] = set()
        irradiated = {pid for arm, pid in twins.items() if _regimen_course(protocol, arm) is not None}
        for when, _o, pid, v in sorted(steps, key=lambda s: (s[0], s[1], s[3]["code"] if s[3] else "")):
            if when > today:
                break
            clock.set(when)
            if v is None:  # attributed to the radiotherapy where there was one, as a site would
                followup.record_entry(ctx, dm, t, pid, "adverse_event", {
                    "date": when.isoformat(), "term": "Fatigue", "grade": 1, "serious": False,
                    **({"attribution_radiotherapy": "possible"} if pid in irradiated else {})})
                continue
            enrolment.record_visit(ctx, coord, t, pid, v["code"], {"date": v["target"]})
            if pid not in assessed and "assessment" in v["forms"]:
                followup.record_entry(ctx, assessor, t, pid, "assessment",
                                      {"date": v["target"], "modality": "CT", "findings": _findings(source["record"])})
                assessed.add(pid)
    finally:
        c.dispose()
    return twins


def _findings(record: dict) -> list[dict]:
    """Each lesion measured on the record's last scan, unchanged."""
    known = {x["id"] for x in record.get("lesions") or []}
    out: dict[str, dict] = {}
    for scan in sorted(record.get("assessments") or [], key=lambda a: a["date"]):
        for f in scan.get("findings", []):
            for key in ("diameter_mm", "short_axis_mm"):
                if key in f and f["lesion"] in known:
                    out[f["lesion"]] = {"lesion": f["lesion"], key: float(f[key])}
    return list(out.values())
