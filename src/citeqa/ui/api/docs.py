"""``/docs``: Swagger UI for the REST API, its script, style and icon served by this app, not a CDN.

FastAPI's own ``/docs`` loads Swagger UI from cdn.jsdelivr.net and its icon from fastapi.tiangolo.com:
offline that is a blank page. The ``fastapi-offline`` package ships the same Swagger UI build; its
files are served from ``/docs/static/`` (FastAPI's how-to "Self-hosting JavaScript and CSS for docs").
Every URL the page names starts with the request's root path, so it works behind a proxy sub-path.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from citeqa.errors import CiteqaError

DOCS_PATH = "/docs"
DOCS_STATIC = "/docs/static"
OPENAPI_PATH = "/openapi.json"
TITLE = "citeqa API 文件"
# The only files served, by name: a fixed list, so no client-supplied path ever reaches the file system.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# The page may load and call nothing but this app: a belt to the braces of the URLs above. Swagger UI
# needs its inline start script, inline styles and data: images.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'"
)
# validatorUrl None: Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
# Above Swagger UI: what the page is, in the chat's language (no link or script: nothing to load).
BANNER = (
    '<body><header lang="zh-Hant" style="font: 15px/1.6 sans-serif; color: #1f2328; background: #f6f8fa; '
    'border-bottom: 1px solid #d0d7de; padding: 10px 20px;"><strong>citeqa API 文件</strong>：給開發者的 REST API '
    "說明。用 <code>POST /api/ask</code> 提問，回答裡的 [n] 對應 <code>citations</code> 的第 n 筆。"
    "以下的互動介面（Swagger UI）與欄位名稱是英文。</header>"
)
SWAGGER_PARAMETERS = {"validatorUrl": None}


def swagger_assets() -> Traversable:
    """The folder of Swagger UI files inside ``fastapi-offline``; a clear error when it is missing or broken."""
    try:
        folder = resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        raise CiteqaError(
            "the API docs need the package fastapi-offline (Swagger UI files): pip install 'fastapi-offline>=1.7.7,<2'"
        ) from None
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise CiteqaError(f"fastapi-offline lacks {', '.join(missing)} in {folder}; reinstall fastapi-offline")
    return folder


def docs_page(root: str) -> HTMLResponse:
    """The Swagger UI page; ``root`` is the app's root path ("" or "/citeqa")."""
    page = get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_PATH}",
        title=TITLE,
        swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        oauth2_redirect_url=None,  # the API has no OAuth
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    # The page is English (Swagger UI's words, the API's descriptions and keys); its title and the
    # banner above it, for the readers the chat links here from as 「API 文件」, are Chinese and say so.
    html = bytes(page.body).decode("utf-8").replace("<html>", '<html lang="en">', 1).replace("<body>", BANNER, 1)
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP})


def build_docs_router() -> APIRouter:
    """``/docs`` and its three files; create the app with ``docs_url=None`` so FastAPI's CDN page is gone.

    The files are read once, here: a broken install fails when the app is built, not on a visitor's request.
    """
    folder = swagger_assets()
    blobs = {name: (folder / name).read_bytes() for name in ASSETS}
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        # root_path is the server's setting (RootPathMiddleware), validated by ServeSettings: never a header.
        return docs_page(str(request.scope.get("root_path", "")).rstrip("/"))

    @router.get(DOCS_STATIC + "/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse({"error": f"no such file: {DOCS_STATIC}/{name}"}, status_code=404)
        return Response(blobs[name], media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})

    return router
