"""The deterministic rewrite of follow-ups (chat.followups): relative verses resolve
against the last verse referred to, pronoun-led and short questions carry the previous
turn's references, names, books and topics, and a question that stands alone is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.bible.scripture import find_references
from apps.chat.followups import needs_context, rewrite

DIALOGUES = Path(__file__).resolve().parents[2] / "bench" / "eval" / "dialogues.jsonl"


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("What does John 3:16 say?", "And the next verse?", "John 3:17"),
        ("What does John 3:16 say?", "What does the next verse say?", "John 3:17"),
        ("Show me Psalm 23:1", "what comes right after that?", "Psalms 23:2"),
        ("What does Romans 8:28 say?", "and the verse after it?", "Romans 8:29"),
        ("Read me Genesis 1:1", "how does it continue?", "Genesis 1:2"),
        ("What is Philippians 4:13 about?", "what's the verse just before it?", "Philippians 4:12"),
        ("Read Isaiah 40:31", "what's the verse before that one?", "Isaiah 40:30"),
        ("Look up Matthew 5:3", "and the next two?", "Matthew 5:4-5"),
        ("Look up Matthew 5:3", "the next three verses please", "Matthew 5:4-6"),
        ("Look up Matthew 5:5", "and the previous two verses?", "Matthew 5:3-4"),
        ("What does 1 Corinthians 13:4 say?", "keep going, what follows?", "1 Corinthians 13:5-7"),
        ("What does Romans 8:28-30 say?", "and the next verse?", "Romans 8:31"),  # after a range: after its end
        ("What does Romans 8:28-30 say?", "the verse before?", "Romans 8:27"),  # before a range: before its start
        ("What does John 3:36 say?", "and the next verse?", "John 4:1"),  # across a chapter
        ("Read Genesis 50:26", "what comes next verse?", "Exodus 1:1"),  # across a book
        ("What does Psalm 23:4 say?", "read me the rest of the chapter", "Psalms 23:5-6"),
        ("What does Romans 8:28 say?", "and the next chapter?", "Romans 9"),
        ("What does Romans 8:28 say?", "what about the previous chapter?", "Romans 7"),
        ("What does Romans 8:28 say?", "show me the whole chapter", "Romans 8"),
        ("Tell me about Acts 1:8", "what happened right after he said it?", "Acts 1:9"),
        ("What does Rom 8:28 say?", "and the next verse?", "Romans 8:29"),  # abbreviations
    ],
)
def test_relative_verses_resolve_against_the_last_reference(previous: str, question: str, expected: str) -> None:
    assert rewrite(question, previous=[previous]) == expected


def test_a_relative_follow_up_that_asks_more_keeps_its_words_beside_the_verse() -> None:
    query = rewrite("why was he crying, what happened just before?", previous=["What does John 11:35 say?"])
    assert query.startswith("John 11:34: ") and "crying" in query


def test_the_newest_reference_wins_and_a_rewrite_chains() -> None:
    first = rewrite("And the next verse?", previous=["What does John 3:16 say?"])
    assert rewrite("and the one after that?", previous=["What does John 3:16 say?", first]) == "John 3:18"
    assert rewrite("the next verse?", previous=["John 3:16", "Compare Romans 5:8"]) == "Romans 5:9"


def test_without_a_referenced_verse_the_last_answer_anchors() -> None:
    answer = "Love is patient [1]. See 1 Corinthians 13:4 and John 15:13."
    assert rewrite("and the next verse?", previous=["What is love?"], last_answer=answer) == "1 Corinthians 13:5"


@pytest.mark.parametrize(
    ("previous", "question", "carried"),
    [
        ("Who was Zacchaeus?", "what did he promise to do after Jesus came to his house?", ["Zacchaeus"]),
        ("Tell me about Nicodemus", "when did he come to Jesus?", ["Nicodemus"]),
        ("Who was Mary Magdalene?", "who did she meet at the empty tomb?", ["Mary Magdalene"]),
        ("Tell me about Elijah on Mount Carmel", "how did God answer him there?", ["Elijah on Mount Carmel"]),
        ("Who was Stephen?", "what did he say as he was dying?", ["Stephen"]),
        ("What does the Bible say about angels?", "do they watch over people?", ["angels"]),
        ("What did Jesus teach about prayer?", "what did Paul add about it?", ["prayer"]),
        ("What does Jesus say about divorce?", "what does Paul tell married believers about it?", ["divorce"]),
        ("What does Paul say about love in Romans?", "what does he say to the Corinthians about it?", ["Paul", "love"]),
        ("Tell me about the book of Ruth", "how does it end?", ["Ruth"]),
        ("Is getting drunk condemned in the Bible?", "what does Paul say to do instead?", ["drunk"]),
        ("What did Jesus say about paying taxes?", "does Paul say the same thing?", ["taxes"]),
    ],
)
def test_pronoun_led_follow_ups_carry_names_books_and_topics(previous: str, question: str, carried: list[str]) -> None:
    query = rewrite(question, previous=[previous])
    assert query.startswith(question)
    for term in carried:
        assert term in query


def test_someone_named_anew_without_a_pronoun_replaces_the_old_name() -> None:
    query = rewrite(
        "where does Jesus repeat it?", previous=["What does the law of Moses say about loving your neighbor?"]
    )
    assert "Moses" not in query and "neighbor" in query


def test_a_follow_up_about_a_verse_carries_the_verses_around_it() -> None:
    query = rewrite("who said it, and to whom?", previous=["What is Ruth 1:16?"])
    assert [ref.canonical for ref in find_references(query)] == ["Ruth 1:14-17"]
    again = rewrite("and why did she say it?", previous=["What is Ruth 1:16?", query])
    assert [ref.canonical for ref in find_references(again)] == ["Ruth 1:14-17"]  # not widened at every turn


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("What does the Bible say about faith?", "and about hope?", "What does the Bible say about hope?"),
        ("What does the Bible say about joy?", "and peace?", "What does the Bible say about peace?"),
        ("What does the Bible say about heaven?", "and hell?", "What does the Bible say about hell?"),
        (
            "How does Genesis describe the creation of man?",
            "and of woman?",
            "How does Genesis describe the creation of woman?",
        ),
        (
            "What does the Bible say about the gifts of the Spirit?",
            "and what about the fruit?",
            "What does the Bible say about the fruit of the Spirit?",
        ),
        (
            "What do the gospels say about Jesus' death?",
            "and his burial?",
            "What do the gospels say about Jesus' burial?",
        ),
        ("What does Scripture say about grace", "what about mercy?", "What does Scripture say about mercy?"),
    ],
)
def test_a_new_topic_takes_the_old_ones_place(previous: str, question: str, expected: str) -> None:
    assert rewrite(question, previous=[previous]) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What does the Bible say about grace?",
        "What does it mean to be born again?",
        "How did Augustine understand original sin?",
        "Is it true that the Psalms were all written by David?",
        "What is the verse after John 3:16?",  # names its own verse: resolved, not carried
        "Compare Romans 5:8 with John 15:13",
    ],
)
def test_a_question_that_stands_alone_is_left_unchanged(question: str) -> None:
    previous = ["What does John 3:16 say?"]
    if "after John 3:16" in question:
        assert rewrite(question, previous=previous) == "John 3:17"
    else:
        assert not needs_context(question)
        assert rewrite(question, previous=previous) == question


def test_the_first_question_is_never_rewritten() -> None:
    assert rewrite("And the next verse?", previous=[]) == "And the next verse?"


def test_a_relative_verse_with_nothing_to_anchor_it_names_no_verse() -> None:
    query = rewrite("and the next verse?", previous=["What is love?"])
    assert query.startswith("and the next verse?") and not find_references(query)


def test_whitespace_is_normalised_and_odd_input_does_not_fail() -> None:
    assert rewrite("  And   the next\nverse? ", previous=["John 3:16"]) == "John 3:17"
    for odd in ["", "?", "and", "'s", "1 2 3", "he he he", "Revelation 22:21 next verse", "x" * 5000]:
        assert isinstance(rewrite(odd, previous=["What does Revelation 22:21 say?"]), str)
    after_the_end = rewrite("and the next verse?", previous=["Revelation 22:21"])  # nothing follows it
    assert all(max(ref.verse_ids) <= 66022021 for ref in find_references(after_the_end))


def test_every_relative_dialogue_of_the_development_set_finds_a_right_verse() -> None:
    """bench/eval/dialogues.jsonl: where the second turn asks for a neighbouring verse, the
    rewrite names one of the verses the dialogue expects."""
    relative = 0
    for line in DIALOGUES.read_text().splitlines():
        dialogue = json.loads(line)
        query = rewrite(dialogue["turns"][1], previous=[dialogue["turns"][0]])
        named = {ref for found in find_references(query) for ref in found.verse_ids}
        expected = {ref for found in find_references(", ".join(dialogue["refs"])) for ref in found.verse_ids}
        if find_references(dialogue["turns"][0]) and "(" not in query:  # resolved, not carried
            relative += 1
            assert named & expected or not named, (dialogue["turns"], query)
    assert relative >= 13
