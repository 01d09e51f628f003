"""``oligotrial serve``: run the API with uvicorn (SQLite by default)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(host: str = typer.Option(None, help="bind address (default from settings: 127.0.0.1)"),
              port: int = typer.Option(None, help="port (default from settings: 8000)")) -> None:
        """Serve the REST API (OpenAPI at /openapi.json)."""
        import uvicorn

        from oligotrial.adapters.cli.db import container_or_exit
        from oligotrial.adapters.web.app import create_app

        container = container_or_exit()
        s = container.settings
        uvicorn.run(create_app(container), host=host or s.host, port=port or s.port, log_level="warning")
