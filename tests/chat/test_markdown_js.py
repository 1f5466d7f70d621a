"""static/js/markdown.js renders answers escape-first: payloads from the model or from
documents come out as text, never as live HTML; links go to http(s) addresses (shown with
their real host) or paths on this site, and never pass for citation chips. The renderer runs
in Chromium, the same file the chat page loads, and its output is put into a real DOM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Dialog, Page

from tests.e2e.browser import chromium

MARKDOWN_JS = settings.BASE_DIR / "static/js/markdown.js"

# Renders `markdown` into the page and reports what the DOM holds.
INSPECT = """([markdown, citations]) => {
  const box = document.createElement("div");
  box.innerHTML = window.TheoMarkdown.render(markdown, citations);
  document.body.replaceChildren(box);
  const all = [...box.querySelectorAll("*")];
  return {
    html: box.innerHTML,
    text: box.textContent,
    tags: [...new Set(all.map((node) => node.tagName.toLowerCase()))],
    attributes: [...new Set(all.flatMap((node) => [...node.attributes].map((a) => a.name)))],
    links: [...box.querySelectorAll("a")].map((a) => ({
      href: a.getAttribute("href"), resolved: a.href, text: a.textContent, cls: a.className,
      chipInside: !!a.querySelector(".cite"), host: (a.querySelector(".link-host") || {}).textContent || "",
    })),
    chips: [...box.querySelectorAll(".cite")].map((c) => ({
      tag: c.tagName.toLowerCase(), href: c.getAttribute("href"), text: c.textContent,
    })),
  };
}"""

SAFE_TAGS = {"p", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "strong", "em", "a", "span"}
SAFE_ATTRIBUTES = {"href", "rel", "class", "title"}


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with chromium() as browser:
        page = browser.new_page(base_url="http://theo.test")
        page.route("http://theo.test/**", lambda route: route.fulfill(body="<!doctype html><body></body>"))
        page.goto("/chat/1/")
        page.add_script_tag(path=str(MARKDOWN_JS))
        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.dialogs = dialogs  # type: ignore[attr-defined]  # read by the tests below
        yield page


def render(page: Page, markdown: str, citations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result = page.evaluate(INSPECT, [markdown, citations or []])
    page.wait_for_timeout(0)
    assert set(result["tags"]) <= SAFE_TAGS, result["html"]
    assert set(result["attributes"]) <= SAFE_ATTRIBUTES, result["html"]
    for link in result["links"]:
        assert link["resolved"].startswith(("http://", "https://")), result["html"]
        assert not link["chipInside"] or "cite" in link["cls"], result["html"]
    return result


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert`1`)",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox)",
    "[click](//evil.example/x)",
    "[click](/\\evil.example/x)",
    "[click](\\\\evil.example/x)",
    "[click](/\\/evil.example/x)",
    "[click](https:evil.example)",
    "<svg onload=alert(1)>",
    "`<iframe src=x>`",
    '"><script>alert(1)</script>',
    '[x](https://example.org/"onmouseover="alert(1))',
    "**<b onclick=alert(1)>bold</b>**",
    "```\n<script>alert(1)</script>\n```",
    "\u0001" + "0\u0001 \u00000\u0000",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_render_inert(page: Page, payload: str) -> None:
    citation = {"n": 1, "title": payload, "verified": True, "url": "javascript:alert(1)"}
    result = render(page, f"Answer {payload} [1]", [citation])
    assert not page.dialogs  # type: ignore[attr-defined]
    for link in result["links"]:
        assert link["resolved"].startswith("https://example.org/"), result["html"]  # the only allowed host above
    assert "undefined" not in result["text"]


def test_markdown_and_citation_chips(page: Page) -> None:
    result = render(
        page,
        "**Grace** first [1].\n\n- one\n- two [2]",
        [
            {"n": 1, "title": "Institutes", "page_start": 3, "verified": True, "url": "/documents/x/"},
            {"n": 2, "reference": "Romans 8:28", "verified": False, "url": "/scripture/?ref=Romans+8%3A28"},
        ],
    )
    assert "<strong>Grace</strong>" in result["html"] and "<ul>" in result["html"]
    assert '<a class="cite" href="/documents/x/" title="Institutes, p. 3">1</a>' in result["html"]
    assert 'class="cite unverified"' in result["html"] and "could not be verified" in result["html"]


def test_web_links_show_the_host_they_really_go_to(page: Page) -> None:
    result = render(page, "See [the docs](https://example.org/a?b=1&c=2) and [Theo](https://theo.test@evil.example/x).")
    docs, disguised = result["links"]
    assert docs["href"] == "https://example.org/a?b=1&c=2" and docs["host"] == "(example.org)"
    assert docs["text"] == "the docs (example.org)" and docs["cls"] == "link-out"
    assert disguised["host"] == "(evil.example)" and disguised["href"] == "https://evil.example/x"


def test_lookalike_hosts_are_shown_as_punycode(page: Page) -> None:
    (link,) = render(page, "[Apple](https://аpple.example/)")["links"]  # a Cyrillic "а"
    assert link["host"] == "(xn--pple-43d.example)"


@pytest.mark.parametrize("url", ["/documents/x/", "/search/?q=grace&scope=bible", "?page=2", "#top", "notes/3"])
def test_relative_links_stay_on_this_site(page: Page, url: str) -> None:
    (link,) = render(page, f"[here]({url})")["links"]
    assert link["href"] == url and link["host"] == ""
    assert link["resolved"].startswith("http://theo.test/")


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example/",
        "/\\evil.example/",
        "\\/evil.example/",
        "/\\/evil.example",
        "https:/\\evil.example",
        "ftp://x/",
    ],
)
def test_refused_links_are_plain_text(page: Page, url: str) -> None:
    result = render(page, f"[here]({url})")
    assert result["links"] == [] and result["text"].startswith("here")


@pytest.mark.parametrize("label", ["1", "[1]", "2, 3", " 4 ", "**5**"])
def test_a_link_never_passes_for_a_citation(page: Page, label: str) -> None:
    citations = [{"n": n, "title": "Real source", "verified": True, "url": "/documents/real/"} for n in range(1, 6)]
    result = render(page, f"Proof [{label}](https://evil.example/) and [{label}](/documents/other/).", citations)
    assert all(link["href"] == "/documents/real/" for link in result["links"]), result["html"]
    assert 'href="https://evil' not in result["html"] and 'href="/documents/other/' not in result["html"]


def test_a_chip_is_never_inside_a_link(page: Page) -> None:
    citations = [{"n": 1, "title": "Real source", "verified": True, "url": "/documents/real/"}]
    result = render(page, "[**[1]**](https://evil.example/) [see [1]](https://evil.example/)", citations)
    assert all(link["cls"].startswith("cite") and link["href"] == "/documents/real/" for link in result["links"])
    assert result["chips"] and all(chip["href"] == "/documents/real/" for chip in result["chips"])


@pytest.mark.parametrize("url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil.example"])
def test_chips_link_only_to_this_site(page: Page, url: str) -> None:
    result = render(page, "Claim [1].", [{"n": 1, "title": "Source", "verified": True, "url": url}])
    assert result["links"] == [] and result["chips"] == [{"tag": "span", "href": None, "text": "1"}]
