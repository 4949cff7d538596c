"""The API docs page (/api/docs), served from the installed ``swagger-ui-bundle`` package.

FastAPI's own docs page loads Swagger UI's scripts from a CDN: the browser would reach
another host (nothing may leave the machine) and the CSP would refuse them anyway. Here
the same files come from the wheel, and the page's start-up script is a file too, so the
page needs no inline script. Without the package the page is off; /api/openapi.json stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Folio API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body></html>"""
INIT = """window.ui = SwaggerUIBundle({url: '/api/openapi.json', dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', deepLinking: true});"""
FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "application/javascript"}


def swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(swagger_ui_bundle.swagger_ui_path)
    return path if (path / "swagger-ui-bundle.js").exists() else None


def mount(app: FastAPI) -> bool:
    """Add /api/docs when the bundle is installed; True if it was."""
    from fastapi.responses import FileResponse, HTMLResponse, Response

    root = swagger_dir()
    if root is None:
        return False

    @app.get("/api/docs", include_in_schema=False)
    def page() -> Any:
        return HTMLResponse(PAGE)

    @app.get("/api/docs/init.js", include_in_schema=False)
    def init() -> Any:
        return Response(INIT, media_type="application/javascript")

    @app.get("/api/docs/static/{name}", include_in_schema=False)
    def static(name: str) -> Any:
        if name not in FILES:  # a fixed list: no path from the request reaches the disk
            return Response(status_code=404)
        return FileResponse(root / name, media_type=FILES[name])

    return True
