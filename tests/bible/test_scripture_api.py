"""GET /api/v1/scripture/ and the reading page /scripture/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import assert_error

URL = "/api/v1/scripture/"
pytestmark = pytest.mark.django_db


def test_verses_with_canonical_reference_and_text(client_for: Any, user: Any) -> None:
    response = client_for(user).get(URL, {"ref": "Rom 8:28-30", "translation": "kjv"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["references"] == ["Romans 8:28-30"]
    assert body["translation"] == "kjv" and body["translation_name"] == "King James Version"
    assert [verse["reference"] for verse in body["verses"]] == ["Romans 8:28", "Romans 8:29", "Romans 8:30"]
    assert body["verses"][0]["text"].startswith("And we know that all things work together for good")
    assert body["verses"][0] | {"text": ""} == {
        "id": 45008028,
        "reference": "Romans 8:28",
        "book": "Romans",
        "chapter": 8,
        "verse": 28,
        "text": "",
    }
    assert body["missing"] == []


def test_web_is_the_default_and_differs_from_kjv(client_for: Any, user: Any) -> None:
    web = client_for(user).get(URL, {"ref": "John 3:16"}).json()
    kjv = client_for(user).get(URL, {"ref": "John 3:16", "translation": "kjv"}).json()
    assert web["translation"] == "web"
    assert web["verses"][0]["text"] != kjv["verses"][0]["text"]
    assert "one and only Son" in web["verses"][0]["text"]


def test_several_references_across_books(client_for: Any, user: Any) -> None:
    body = client_for(user).get(URL, {"ref": "John 3:16, 1 Cor 13:4-7; Rom 8:28"}).json()
    assert body["references"] == ["John 3:16", "1 Corinthians 13:4-7", "Romans 8:28"]
    assert len(body["verses"]) == 6


def test_verses_a_translation_lacks_are_listed(client_for: Any, user: Any) -> None:
    body = client_for(user).get(URL, {"ref": "Rom 16:24-27", "translation": "web"}).json()
    assert [verse["reference"] for verse in body["verses"]] == ["Romans 16:24"]
    assert body["missing"] == ["Romans 16:25", "Romans 16:26", "Romans 16:27"]


@pytest.mark.parametrize("ref", ["banana 3:16", "John 3:16 and then banana", "Hezekiah 1:1", "John 99:1"])
def test_a_bad_reference_is_a_400_that_says_what_was_not_understood(client_for: Any, user: Any, ref: str) -> None:
    error = assert_error(client_for(user).get(URL, {"ref": ref}), 400, "invalid_reference")
    assert error["details"]["not_understood"]
    assert any(part in error["message"] for part in error["details"]["not_understood"])


def test_missing_or_bad_parameters(client_for: Any, user: Any) -> None:
    assert_error(client_for(user).get(URL), 400, "validation_error")
    error = assert_error(client_for(user).get(URL, {"ref": "John 3:16", "translation": "niv"}), 400, "validation_error")
    assert "translation" in error["details"]
    assert_error(client_for(user).get(URL, {"ref": "x" * 301}), 400, "validation_error")


def test_too_many_verses_is_refused_clearly(client_for: Any, user: Any, settings: Any) -> None:
    settings.SCRIPTURE_MAX_VERSES = 100
    error = assert_error(client_for(user).get(URL, {"ref": "Ps 119"}), 400, "too_many_verses")
    assert "176" in error["message"]


def test_needs_an_approved_account(client_for: Any, make_user: Any) -> None:
    assert_error(client_for(None).get(URL, {"ref": "John 3:16"}), 401, "not_authenticated")
    guest = make_user(role="guest")
    assert client_for(guest).get(URL, {"ref": "John 3:16"}).status_code == 200


# --- the reading page -------------------------------------------------------------------------


def test_reading_page_shows_verses_and_switches_translation(client: Any, user: Any) -> None:
    client.force_login(user)
    page = client.get("/scripture/", {"ref": "Ps 23", "translation": "kjv"}).content.decode()
    assert "The LORD [is] my shepherd; I shall not want." in page
    assert 'id="v19023001"' in page
    assert "?ref=Ps+23&amp;translation=web" in page  # the switch keeps the reference
    assert "Previous chapter" in page and "Next chapter" in page
    web = client.get("/scripture/", {"ref": "Ps 23", "translation": "web"}).content.decode()
    assert "Yahweh is my shepherd" in web


def test_reading_page_explains_a_bad_reference(client: Any, user: Any) -> None:
    client.force_login(user)
    response = client.get("/scripture/", {"ref": "Hezekiah 4:1"})
    assert response.status_code == 200
    assert "Could not understand" in response.content.decode()


def test_reading_page_escapes_what_it_echoes(client: Any, user: Any) -> None:
    client.force_login(user)
    page = client.get("/scripture/", {"ref": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
