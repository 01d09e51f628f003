"""The web interface: server-rendered pages (Jinja2 templates, a little htmx) on the same services
as the REST API, and every script and stylesheet served by oligotrial itself.

:func:`mount` adds to an app: the pages under ``/`` (``/`` leads to the sign-in page), the
static files under ``/static`` (the project's stylesheet; htmx 2.0.4 and Swagger UI 5.17.14
vendored from their npm packages, see ``static/vendor/README.md``), and the API documentation at
``/docs`` drawn by the vendored Swagger UI, so that it works on a network that reaches nothing
but this server.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from oligotrial.errors import OligotrialError

SWAGGER = "/static/vendor/swagger-ui-5.17.14"


def mount(app: FastAPI, status_for: Callable[[OligotrialError], int]) -> None:
    """Add the pages, ``/static`` and an offline ``/docs`` to ``app`` (created with
    ``docs_url=None, redoc_url=None``, so that nothing points at a CDN). ``status_for`` is the
    API's map from a domain error to its status code, so that an error page answers with the
    same code as the API would."""
    from oligotrial.adapters.web.pages import (  # noqa: F401  (their routes join the router)
        admin,
        participant,
        queries,
        screening,
        unblind,
    )
    from oligotrial.adapters.web.pages.base import HERE
    from oligotrial.adapters.web.pages.views import router

    app.state.page_status_for = status_for
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.include_router(router)
