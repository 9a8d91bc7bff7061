"""Real headless Chromium against the real engine served in process; every request off 127.0.0.1 blocked.

Screenshots go to ``test-artifacts/`` (look at them). Needs Debian's ``chromium`` and ``fonts-noto-cjk``
(``make browser``); the tests are skipped with a reason when the browser is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browsing import ARGS, CHROMIUM, DESKTOP, Tab

from support import ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("needs Debian chromium: apt-get install -y chromium fonts-noto-cjk (make browser)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(real_server) -> str:
    """No token, served at "/", and the host site's origin allowed for CORS (tests/conftest.py)."""
    return real_server


@pytest.fixture(scope="module")
def guarded(guarded_real_server) -> str:
    """Under a sub-path with an access token: what an intranet reverse proxy would put in front."""
    return guarded_real_server


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Remember whether the test itself failed, so ``new_tab`` can keep a picture of what it saw."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_tab(request: pytest.FixtureRequest, browser: object) -> Iterator[Callable[..., Tab]]:
    """``new_tab(PHONE)`` → a Tab; after the test: nothing blocked, no page errors, no failed requests.

    A test that fails leaves a screenshot of each of its tabs, ``test-artifacts/FAILED-<test>-<n>.png``,
    and its network and console log beside it (``.trace``).
    """
    tabs: list[Tab] = []

    def make(viewport: dict[str, int] = DESKTOP, allowed_hosts: tuple[str, ...] = ()) -> Tab:
        tabs.append(Tab(browser, viewport, allowed_hosts))
        return tabs[-1]

    yield make
    if request.node.stash.get(FAILED, False):
        for n, t in enumerate(tabs):
            t.shot(f"FAILED-{request.node.name}-{n}")
            (ARTIFACTS / f"FAILED-{request.node.name}-{n}.trace").write_text("\n".join(t.trace))
    for t in tabs:
        t.context.close()
    for t in tabs:
        assert not t.blocked, f"the page reached outside this server: {t.blocked[:5]}"
        assert not t.errors, f"page errors: {t.errors[:5]}"
        assert not t.failed, f"failed requests: {t.failed[:5]}"
