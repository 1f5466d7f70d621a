"""The pipeline reads the conversation afresh when it saves the question: what changed
between the transport's admission and the answer (a persona, a scope, a name the reader
gave it) is what the answer uses and what stays stored; the first question names only a
conversation whose row is still untitled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apps.chat.admission import question_admit
from apps.chat.answer import answer_complete
from apps.chat.models import Conversation, Persona
from apps.chat.services import conversation_create, conversation_update
from tests.chat import fake_claude as fake
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)


def test_changes_made_after_admission_are_what_the_answer_uses_and_keeps(user: Any, claude_settings: Any) -> None:
    word = marker()
    add_passages([f"The {word} homily: grace precedes every good will."], owner=user, title="Homilies")
    conversation = conversation_create(owner=user, scope="documents")
    admission = question_admit(user=user, conversation=conversation, content=f"What does {word} teach?")
    persona = Persona.objects.filter(is_active=True).order_by("sort_order").first()
    assert persona is not None
    # Meanwhile (another tab, the API): renamed, another persona, the Bible only.
    conversation_update(
        conversation=Conversation.objects.get(pk=conversation.pk),
        actor=user,
        title="My notes on grace",
        persona=persona,
        scope="bible",
    )
    claude_settings.respond(fake.text("Grace [1]."))
    events = async_to_sync(answer_complete)(admission=admission)
    assert events[-1]["type"] == "done"
    (sent,) = claude_settings.requests
    assert sent["body"]["system"][0]["text"] == persona.system_prompt
    assert "Homilies" not in json.dumps(sent["body"]["system"])  # the Bible only now
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.title, stored.persona_id, stored.scope) == ("My notes on grace", persona.pk, "bible")


def test_the_first_question_names_an_untitled_conversation_and_later_ones_do_not(
    user: Any, claude_settings: Any
) -> None:
    conversation = conversation_create(owner=user, scope="bible")
    for question in ("What is grace?", "And what is faith?"):
        admission = question_admit(user=user, conversation=conversation, content=question)
        claude_settings.respond(fake.text("Answer."))
        async_to_sync(answer_complete)(admission=admission)
    assert Conversation.objects.get(pk=conversation.pk).title == "What is grace?"
    assert conversation.title == ""  # the caller's copy: loaded before the first question
