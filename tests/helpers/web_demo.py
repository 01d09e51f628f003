"""The web interface's test fixtures: a small demo database (``oligotrial demo``, STOP-2 unless
said) with an account for every role, the app on it, signing in through the sign-in form, and a real HTTP
server in a thread (for the browser)."""

from __future__ import annotations

import re
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


def build(out: Path, patients: int = 8, seed: int = 5, trial: str = "STOP-2", clock=None) -> WebDemo:
    """``oligotrial demo --trial TRIAL`` (STOP-2 unless said) into ``out``, plus an account for
    each role the demo leaves out (the enrolling oncologist, an administrator of every trial);
    the server's clock is ``clock`` where given (a test that lives through a trial's calendar)."""
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.service import users

    res = CliRunner().invoke(app, ["demo", "--trial", trial, "--patients", str(patients), "--seed", str(seed),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
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
