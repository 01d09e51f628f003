"""``oligotrial serve``: run the web interface and the REST API with uvicorn (SQLite by default).

It prints where it listens, and logs one line per request without personal data: the method,
the route's template (``/trials/{trial}/participants/{pid}``, never the participant's id or a
query string), the status and the time taken; no client address, no user name (an audit trail
of who did what is the audit trail's job, with its own access rules).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import typer

access_log = logging.getLogger("oligotrial.access")


class RequestLog:
    """ASGI middleware: one log line per HTTP request, ``GET /trials/{trial} 200 12 ms``."""

    def __init__(self, app: Any, logger: logging.Logger = access_log) -> None:
        self.app = app
        self.log = logger

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.log.info(
                "%s %s %d %.0f ms",
                scope.get("method", "?"),
                route_of(scope),
                status["code"],
                (time.perf_counter() - start) * 1000,
            )


def route_of(scope: dict) -> str:
    """The request's route template (FastAPI puts the matched route in the scope); a static
    file is ``/static/...``; a path that matched no route is ``(no route)``."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return route.path
    path = scope.get("path", "")
    if path.startswith("/static/"):
        return "/static/..."
    return "(no route)"


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL the engine would refuse anyway: show only its scheme
        return url.split(":", 1)[0] + ":..."


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(None, help="bind address (default from settings: 127.0.0.1)"),
        port: int = typer.Option(None, help="port (default from settings: 8000)"),
    ) -> None:
        """Serve the web interface (sign in at /) and the REST API (/api/v1; docs at /docs,
        OpenAPI at /openapi.json)."""
        import uvicorn

        from oligotrial.adapters.cli.db import container_or_exit
        from oligotrial.adapters.web.app import create_app

        container = container_or_exit()
        s = container.settings
        host, port = host or s.host, port or s.port
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
        shown = f"[{host}]" if ":" in host else host
        typer.echo(
            f"oligotrial: listening on http://{shown}:{port}/ (sign in at /login; API under /api/v1, "
            f"docs at /docs); database {_safe_url(s.database_url)}; Ctrl+C stops"
        )
        uvicorn.run(RequestLog(create_app(container)), host=host, port=port, log_level="warning", access_log=False)
