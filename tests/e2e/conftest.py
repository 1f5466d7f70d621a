"""Browser tests against the real thing: `manage.py run` (daphne + a Celery worker) on the
pytest database and Redis, a fake Claude speaking the real streaming protocol, and Debian's
Chromium driven by Playwright.

The server runs once for the tests/e2e package (stopped after its last test, so its worker
never takes tasks meant for later tests' own workers); each test commits its own rows (transactional tests) and
pytest-django empties the tables after it. The server keeps PYTEST_VERSION, so it uses the
test Redis databases: `cache.clear()` between tests resets its rate limits too.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize

from apps.users.models import User
from tests.chat.fake_claude import FakeClaude
from tests.e2e.browser import chromium
from tests.integration.conftest import log_tail, stop_process, subprocess_env

SERVER_START_SECONDS = 120
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="package")
def fake_claude_server() -> Iterator[FakeClaude]:
    with FakeClaude() as fake:
        yield fake


@pytest.fixture(scope="package")
def theo_server(
    django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory, fake_claude_server: FakeClaude
) -> Iterator[str]:
    """The base URL of `manage.py run --no-beat` serving the pytest database."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = subprocess_env(
        THEO_WORKER_CONCURRENCY="1",
        THEO_LOG_LEVEL="WARNING",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=fake_claude_server.base_url,
        THEO_CLAUDE_MAX_RETRIES="0",
        THEO_BIBLE_AUTOLOAD="false",
    )
    log_path = tmp_path_factory.mktemp("e2e") / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run", "--port", str(port), "--no-beat", "--shutdown-timeout", "10"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, f"`manage.py run` exited:\n{log_tail(log_path)}"
            assert time.monotonic() < deadline, f"Theo did not become ready:\n{log_tail(log_path)}"
            try:
                with urllib.request.urlopen(f"{base}/health/ready", timeout=5) as response:
                    if response.status == 200 and json.load(response)["status"] == "ready":
                        break
            except OSError:
                pass
            time.sleep(0.5)
        yield base
    finally:
        stop_process(process, timeout=30)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


class Session:
    """A browser context for one user; collects console errors and CSP violations."""

    def __init__(self, browser: Browser, base_url: str, viewport: ViewportSize) -> None:
        self.base_url = base_url
        self.context: BrowserContext = browser.new_context(base_url=base_url, viewport=viewport)
        self.context.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page: Page = self.new_page()

    def new_page(self) -> Page:
        page = self.context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        # Every CSP violation is also reported as an event in the page.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    def sign_in_as(self, user: User) -> None:
        """A signed-in session without typing a password (the test made the user)."""
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        self.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": self.base_url}])

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_session(browser: Browser, theo_server: str) -> Iterator[Callable[..., Session]]:
    sessions: list[Session] = []

    def open_(viewport: ViewportSize = DESKTOP) -> Session:
        session = Session(browser, theo_server, viewport)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


@pytest.fixture
def personas(transactional_db: Any) -> None:
    """Transactional tests empty the table the seeding migration filled: seed again."""
    from apps.chat.models import Persona
    from apps.chat.personas import seed_default_personas

    seed_default_personas(Persona)
