"""GET /api/v1/search/, the /search/ page and the Bible index status."""

from __future__ import annotations

from typing import Any

import pytest
from pythonbible import Book

from apps.bible.translations import bible_load
from tests.helpers import assert_error
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db
URL = "/api/v1/search/"


@pytest.fixture
def word(user: Any) -> str:
    word = marker()
    add_passages(
        [f"Calvin on {word}: grace is not earned (Rom 8:29).", "Unrelated chapter on church order."],
        owner=user,
        title="Institutes",
    )
    return word


def test_result_shape(client_for: Any, user: Any, word: str) -> None:
    response = client_for(user).get(URL, {"q": word, "scope": "documents"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == word and body["references"] == []
    result = body["results"][0]
    assert result["source_kind"] == "document" and result["title"] == "Institutes"
    assert result["document_id"] and result["page_start"] == 1 and result["reference"] is None
    assert "text" in result["matched_by"]
    assert result["scripture_references"] == ["Romans 8:29"]
    start, end = result["highlights"][0]
    assert result["snippet"][start:end] == word
    assert result["url"] == f"/documents/{result['document_id']}/?passage={result['id']}#passage-{result['id']}"
    assert isinstance(result["score"], float)


def test_bible_results_carry_their_reference(client_for: Any, user: Any) -> None:
    bible_load(translation="web", books=[Book.RUTH])
    body = client_for(user).get(URL, {"q": "Ruth 1:16", "scope": "bible", "k": 3}).json()
    assert body["references"] == ["Ruth 1:16"]
    first = body["results"][0]
    assert first["reference"] == "Ruth 1:16" and first["translation"] == "web"
    assert first["matched_by"][0] == "reference" and first["document_id"] is None
    assert first["url"].startswith("/scripture/?ref=Ruth+1%3A16&translation=web#v8001016")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 501}, "q"),
        ({"q": "grace", "scope": "everything"}, "scope"),
        ({"q": "grace", "k": "0"}, "k"),
        ({"q": "grace", "k": "51"}, "k"),
        ({"q": "grace", "k": "ten"}, "k"),
        ({"q": "grace", "translation": "niv"}, "translation"),
    ],
)
def test_bad_parameters_are_400s_naming_the_field(client_for: Any, user: Any, params: dict, field: str) -> None:
    error = assert_error(client_for(user).get(URL, params), 400, "validation_error")
    assert field in error["details"]


def test_search_is_limited_per_user(client_for: Any, user: Any, make_user: Any, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": "2/h"}
    client = client_for(user)
    assert client.get(URL, {"q": "grace"}).status_code == 200
    assert client.get(URL, {"q": "grace"}).status_code == 200
    response = client.get(URL, {"q": "grace"})
    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1 and error["details"]["retry_after"] >= 1
    assert client_for(make_user()).get(URL, {"q": "grace"}).status_code == 200  # per user


def test_needs_an_approved_account(client_for: Any, make_user: Any) -> None:
    assert_error(client_for(None).get(URL, {"q": "grace"}), 401, "not_authenticated")
    assert client_for(make_user(status="pending")).get(URL, {"q": "grace"}).status_code in (401, 403)


def test_status_says_how_far_the_bibles_are(client_for: Any, user: Any) -> None:
    bible_load(translation="web", books=[Book.RUTH])
    body = client_for(user).get("/api/v1/scripture/status/").json()
    web = next(row for row in body if row["translation"] == "web")
    assert web["total"] == 31099  # WEB lacks Romans 16:25-27
    assert web["loaded"] >= 85 and web["complete"] is False
    assert 0 <= web["percent"] < 100
    notices = client_for(user).get(URL, {"q": "grace", "scope": "bible"}).json()["notices"]
    assert any("World English Bible" in notice for notice in notices)
    assert client_for(user).get(URL, {"q": "grace", "scope": "documents"}).json()["notices"] == []


# --- the page ------------------------------------------------------------------------------


def test_page_shows_results_with_locator_and_highlight(client: Any, user: Any, word: str) -> None:
    client.force_login(user)
    page = client.get("/search/", {"q": word, "scope": "documents"}).content.decode()
    assert f"<mark>{word}</mark>" in page
    assert "Institutes" in page and "p. 1" in page
    assert 'class="why why-text"' in page
    assert "Romans 8:29" in page


def test_page_escapes_document_text(client: Any, user: Any) -> None:
    word = marker()
    add_passages([f"<script>alert('{word}')</script> <img src=x onerror=alert(1)> {word}"], owner=user)
    client.force_login(user)
    page = client.get("/search/", {"q": word, "scope": "documents"}).content.decode()
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert f"<mark>{word}</mark>" in page
    # Vector-only hits show the raw text: escaped, never markup.
    page = client.get("/search/", {"q": "alert script image", "scope": "documents", "k": 50}).content.decode()
    assert "<script>alert(" not in page and "<img src=x" not in page


def test_page_empty_states_and_errors(client: Any, user: Any) -> None:
    client.force_login(user)
    assert "Try <a" in client.get("/search/").content.decode()
    nothing = client.get("/search/", {"q": marker(), "scope": "documents"}).content.decode()
    assert "Nothing found" in nothing
    too_long = client.get("/search/", {"q": "x" * 600}).content.decode()
    assert "alert-error" in too_long


def test_page_shows_bible_indexing_progress(client: Any, user: Any) -> None:
    bible_load(translation="web", books=[Book.RUTH])
    client.force_login(user)
    page = client.get("/search/").content.decode()
    assert 'role="progressbar"' in page and 'hx-trigger="every 3s"' in page
    fragment = client.get("/search/bible-status/").content.decode()
    assert "World English Bible" in fragment


def test_pages_need_sign_in(client: Any) -> None:
    assert client.get("/search/").status_code == 302
    assert client.get("/scripture/?ref=John+3:16").status_code == 302


def test_the_search_refusal_names_the_configured_rate(client_for: Any, user: Any, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": "1/h"}
    client = client_for(user)
    client.get(URL, {"q": "grace"})
    error = assert_error(client.get(URL, {"q": "grace"}), 429, "rate_limited")
    assert error["message"] == "You have searched 1 times this hour; wait a moment."
