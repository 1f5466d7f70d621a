"""Guests chat with the Bible only: what reaches Claude, in the first prompt and in tool
results, is Bible text, although non-Bible passages the guest may otherwise read (public,
shared with them) match the question just as well. The positive control asks the same as a
reader, to prove those passages would be found."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.index.models import Passage
from tests.chat import fake_claude as fake
from tests.chat.requests import ask, start_conversation
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)
TITLES = ("Public sermon", "Shared sermon", "Members note")


@pytest.fixture
def corpus(make_user: Any) -> dict[str, Any]:
    word = marker()
    guest, reader, author = make_user(role="guest"), make_user(), make_user(role="power")
    text = f"{word}: love is patient and kind, it does not envy."
    verse = add_passages([text], kind="bible", visibility="public", title="Fake Corinthians")
    Passage.objects.filter(pk=verse[0].pk).update(translation="web", reference="1 Cor 13:4")
    add_passages([f"Sermon. {text}"], owner=author, visibility="public", title="Public sermon")
    add_passages([f"Shared. {text}"], owner=author, shared_with=[guest, reader], title="Shared sermon")
    add_passages([f"Note. {text}"], kind="knowledge", owner=author, visibility="members", title="Members note")
    return {"word": word, "guest": guest, "reader": reader}


def _ask_with_a_tool_search(client: Any, fake_claude: Any, word: str) -> list[dict[str, Any]]:
    fake_claude.requests.clear()
    fake_claude.respond(
        fake.tool_use("search_library", {"query": f"{word} love patient kind", "scope": "all"}), fake.text("Love [1].")
    )
    ask(client, start_conversation(client, scope="all"), f"What does {word} say about love being patient and kind?")
    return [request["body"] for request in fake_claude.requests]


def test_guests_get_only_bible_passages_in_the_prompt_and_tool_results(
    client_for: Any, corpus: dict[str, Any], claude_settings: Any
) -> None:
    first, second = _ask_with_a_tool_search(client_for(corpus["guest"]), claude_settings, corpus["word"])
    sent = json.dumps([first["system"], second["messages"][-1]], ensure_ascii=False)
    assert "1 Cor 13:4 (WEB)" in first["system"][-1]["text"]  # the Bible passage was found
    for title in TITLES:
        assert title not in sent, title
    assert "Sermon." not in sent and "Shared." not in sent and "Note." not in sent


def test_positive_control_a_reader_asking_the_same_gets_the_other_passages(
    client_for: Any, corpus: dict[str, Any], claude_settings: Any
) -> None:
    first, second = _ask_with_a_tool_search(client_for(corpus["reader"]), claude_settings, corpus["word"])
    sent = json.dumps([first["system"], second["messages"][-1]], ensure_ascii=False)
    for title in TITLES:
        assert title in sent, title
