"""The Content-Security-Policy: on every response, strict (no inline script or style, no
eval), and nothing in the templates that it would block. The browser tests (test_flow)
check the pages themselves for violations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
BLOCKED = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/register/", "/admin/login/", "/api/docs/"])
def test_every_response_has_a_strict_policy(client: Any, admin_user: Any, path: str) -> None:
    client.force_login(admin_user)
    response = client.get(path)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_swagger_ui_loads_its_start_up_script_as_a_file(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    page = client.get("/api/docs/").content.decode()
    assert "<style" not in page and re.search(r'<script src="[^"]*\?script=', page), page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_nothing_the_policy_blocks(template: Path) -> None:
    text = template.read_text()
    for pattern, what in BLOCKED:
        assert not pattern.search(text), f"{template.relative_to(TEMPLATES)}: {what} (CSP blocks it)"
