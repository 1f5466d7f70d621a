"""static/js/markdown.js renders answers escape-first: payloads from the model or from
documents come out as text, never as live HTML (run in node, the same file the page uses)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from django.conf import settings

NODE = shutil.which("node") or shutil.which("nodejs")

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](//evil.example/x)",
    "<svg onload=alert(1)>",
    "`<iframe src=x>`",
    '"><script>alert(1)</script>',
]


def render(markdown: str, citations: list | None = None) -> str:
    assert NODE, "these tests run the page's renderer in node: install nodejs"
    script = (
        f"const md = require({json.dumps(str(settings.BASE_DIR / 'static/js/markdown.js'))});"
        f"process.stdout.write(md.render({json.dumps(markdown)}, {json.dumps(citations or [])}));"
    )
    return subprocess.run([NODE, "-e", script], capture_output=True, text=True, check=True, timeout=20).stdout


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_render_inert(payload: str) -> None:
    html = render(f"Answer {payload} [1]", [{"n": 1, "title": payload, "verified": True, "url": "javascript:alert(1)"}])
    lowered = html.lower()
    for live in ("<script", "<img", "<svg", "<iframe", 'href="javascript:', 'href="//'):
        assert live not in lowered, html
    assert "onerror=" not in lowered or "&lt;img" in lowered


def test_markdown_and_citation_chips() -> None:
    html = render(
        "**Grace** first [1].\n\n- one\n- two [2]",
        [
            {"n": 1, "title": "Institutes", "page_start": 3, "verified": True, "url": "/documents/x/"},
            {"n": 2, "reference": "Romans 8:28", "verified": False, "url": "/scripture/?ref=Romans+8%3A28"},
        ],
    )
    assert "<strong>Grace</strong>" in html and "<ul>" in html
    assert '<a class="cite" href="/documents/x/" title="Institutes, p. 3">1</a>' in html
    assert 'class="cite unverified"' in html and "could not be verified" in html
