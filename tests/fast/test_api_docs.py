"""``/docs`` works offline: Swagger UI's files come from this app (``fastapi-offline``), not a CDN.

The fake engine, in process (Starlette's TestClient); at "/" and under a proxy sub-path with a token.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from citeqa.ui.api.docs import ASSETS, TITLE
from citeqa.ui.server.app import create_app
from citeqa.ui.server.config import ServeSettings
from support import assert_error

HOSTS = ("testserver",)
URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.I)


@pytest.fixture(scope="module")
def client(fake_engine):
    with TestClient(create_app(fake_engine, ServeSettings(allowed_hosts=HOSTS))) as c:
        yield c


def _asset_urls(html: str) -> list[str]:
    return URL_ATTR.findall(html)


@pytest.mark.parametrize("root", ["", "/p"])
def test_docs_page_names_only_this_apps_files(fake_engine, root):
    with TestClient(create_app(fake_engine, ServeSettings(root_path=root, allowed_hosts=HOSTS))) as c:
        r = c.get(f"{root}/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert f"<title>{TITLE}</title>" in html and '<html lang="en">' in html
        urls = _asset_urls(html)
        assert sorted(urls) == sorted(f"{root}/docs/static/{name}" for name in ASSETS)
        assert not re.search(r"https?://|//[a-z]", html, re.I), "the page names another host"
        assert f"url: '{root}/openapi.json'" in html and '"validatorUrl": null' in html
        assert "default-src 'self'" in r.headers["content-security-policy"]
        for url in urls:
            asset = c.get(url)
            name = url.rsplit("/", 1)[-1]
            assert asset.status_code == 200, url
            assert asset.headers["content-type"] == ASSETS[name]
            assert len(asset.content) > 1000
        assert c.get(f"{root}/openapi.json").status_code == 200
        if root:  # a proxy that strips the prefix reaches the same page, which still names the prefix
            stripped = c.get("/docs").text
            assert f"{root}/docs/static/swagger-ui-bundle.js" in stripped


def test_assets_are_what_they_say(client):
    js = client.get("/docs/static/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in js.text[:2000]
    assert js.headers["cache-control"].startswith("public")
    assert ".swagger-ui" in client.get("/docs/static/swagger-ui.css").text[:200]
    assert client.get("/docs/static/favicon.png").content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "path",
    [
        "/docs/static/redoc.standalone.js",  # in the package, but not served: only the three files are
        "/docs/static/core.py",
        "/docs/static/..%2f..%2fcore.py",
        "/docs/static/%2e%2e/__init__.py",
        "/docs/static/",
        "/docs/oauth2-redirect",
        "/docs/",
        "/docsx",
        "/redoc",
    ],
)
def test_nothing_else_is_served_under_docs(client, path):
    assert_error(client.get(path), 404)


def test_openapi_lists_the_api_not_the_pages(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/api/ask", "/api/search", "/healthz"} <= paths
    assert not paths & {"/docs", "/doc", "/embed", "/docs/static/{name}"}


def test_docs_and_files_need_the_token(fake_engine):
    token = "t0ken-docs"
    settings = ServeSettings(access_token=token, root_path="/p", allowed_hosts=HOSTS)
    with TestClient(create_app(fake_engine, settings)) as c:
        assert_error(c.get("/p/docs"), 401)
        assert_error(c.get("/p/docs/static/swagger-ui.css"), 401)
        r = c.get("/p/docs", params={"token": token}, headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/p/docs"
        # the cookie the redirect set carries the page's own requests: its files and the schema
        assert c.get("/p/docs").status_code == 200
        assert c.get("/p/docs/static/swagger-ui.css").status_code == 200
        assert c.get("/p/openapi.json").status_code == 200


def test_footer_links_to_no_gradio_api_page(client):
    """Gradio's "api" footer link opens its own English page, not the REST API: it is gone."""
    config = client.get("/config").json()
    assert config["footer_links"] == ["settings"]
