"""Scripture references in free text (document passages) and in strict queries, and Bible text."""

from __future__ import annotations

import pytest

from apps.bible import scripture
from apps.bible.scripture import ScriptureParseError, find_references, parse_references, verse_text


def canonical(references: list[scripture.ScriptureReference]) -> list[str]:
    return [reference.canonical for reference in references]


# --- find_references: free text --------------------------------------------------------


def test_comma_and_semicolon_lists_across_books_give_every_reference():
    references = find_references("See John 3:16, 1 Cor 13:4-7; Rom 8:28 for the argument.")

    assert canonical(references) == ["John 3:16", "1 Corinthians 13:4-7", "Romans 8:28"]
    assert references[0].verse_ids == (43003016,)
    assert references[1].verse_ids == (46013004, 46013005, 46013006, 46013007)
    assert references[2].verse_ids == (45008028,)


def test_the_number_of_a_numbered_book_is_not_read_as_a_verse_of_the_previous_book():
    references = find_references("John 3:16, 1 Cor 13:4")

    assert 43003001 not in {verse for reference in references for verse in reference.verse_ids}
    assert canonical(references) == ["John 3:16", "1 Corinthians 13:4"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mt 5:3", "Matthew 5:3"),
        ("Mk 1:1", "Mark 1:1"),
        ("Lk 2:1", "Luke 2:1"),
        ("Dt 6:4", "Deuteronomy 6:4"),
        ("Ex 3:14", "Exodus 3:14"),
        ("Is 53:5", "Isaiah 53:5"),
        ("Rom 8:28-30", "Romans 8:28-30"),
        ("1 John 4:8", "1 John 4:8"),
        ("Psalm 119:105", "Psalms 119:105"),
    ],
)
def test_common_abbreviations(text, expected):
    assert canonical(find_references(f"as {text} says")) == [expected]


def test_a_range_across_chapters_covers_every_verse():
    (reference,) = find_references("The sermon (Matt 5:3-7:29) is long.")

    assert reference.canonical == "Matthew 5:3-7:29"
    assert len(reference.verse_ids) == 109
    assert reference.verse_ids[0] == 40005003
    assert reference.verse_ids[-1] == 40007029
    assert 40006009 in reference.verse_ids  # the Lord's Prayer, in chapter 6


def test_a_whole_chapter_is_every_verse_of_it():
    (reference,) = find_references("Ps 23 comforts the dying.")

    assert reference.canonical == "Psalms 23:1-6"
    assert reference.verse_ids == tuple(19023000 + verse for verse in range(1, 7))


def test_bare_book_names_are_not_references():
    assert find_references("in Romans Paul argues from Genesis, and Exodus is a story") == []
    assert find_references("Is it true? Mark my words, Job.") == []


def test_impossible_verses_are_ignored():
    assert find_references("John 99:1 does not exist") == []
    assert canonical(find_references("John 99:1 no, but John 3:16 yes")) == ["John 3:16"]


def test_each_reference_is_found_once_in_order():
    references = find_references("Gen 1:1 ... Rom 8:28 ... Gen 1:1 again")

    assert canonical(references) == ["Genesis 1:1", "Romans 8:28"]


def test_chapter_references_after_a_semicolon_stay_in_the_same_book():
    """Scholarly citation style: "Rom 8:28; 12:1-2" cites two places in Romans."""
    assert canonical(find_references("Paul (Rom 8:28; 12:1-2) insists")) == ["Romans 8:28", "Romans 12:1-2"]
    assert canonical(find_references("John 3:16; 17:3")) == ["John 3:16", "John 17:3"]


def test_verse_ids_of_merges_and_sorts():
    references = find_references("Rom 8:29-30 and Rom 8:28-29")

    assert scripture.verse_ids_of(references) == [45008028, 45008029, 45008030]


# --- parse_references: strict queries -------------------------------------------------


def test_a_query_of_references_parses():
    references = parse_references("John 3:16, 1 Cor 13:4-7; Rom 8:28")

    assert canonical(references) == ["John 3:16", "1 Corinthians 13:4-7", "Romans 8:28"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("Ps 23", ["Psalms 23:1-6"]), ("Matt 5:3-7:29", ["Matthew 5:3-7:29"]), ("Mt 5:3", ["Matthew 5:3"])],
)
def test_single_queries_parse(query, expected):
    assert canonical(parse_references(query)) == expected


def test_a_query_with_something_else_names_what_was_not_understood():
    with pytest.raises(ScriptureParseError) as caught:
        parse_references("John 3:16 and cheese")

    assert caught.value.not_understood == ["cheese"]
    assert "cheese" in str(caught.value)
    assert "John" not in caught.value.not_understood[0]


def test_an_unknown_book_is_not_understood():
    with pytest.raises(ScriptureParseError) as caught:
        parse_references("banana 3:16")

    assert "banana" in str(caught.value)
    assert any("banana" in part for part in caught.value.not_understood)


def test_an_impossible_verse_is_not_understood():
    with pytest.raises(ScriptureParseError) as caught:
        parse_references("John 99:1")

    assert "John 99:1" in str(caught.value)


def test_an_empty_query_asks_for_a_reference():
    with pytest.raises(ScriptureParseError, match="Romans 8:28"):
        parse_references("   ")


def test_parse_error_is_a_value_error_with_an_example():
    with pytest.raises(ValueError, match=r"e\.g\. Romans 8:28-30"):
        parse_references("cheese")


# --- Bible text -----------------------------------------------------------------------


def test_verse_text_in_kjv_and_web():
    kjv = verse_text(43003016, "kjv")
    web = verse_text(43003016, "web")

    assert kjv.startswith("For God so loved the world")
    assert "only begotten Son" in kjv
    assert web.startswith("For God so loved the world")
    assert "one and only Son" in web
    assert verse_text(43003016) == web  # WEB is the default


def test_a_verse_missing_from_a_translation_is_empty_text():
    assert verse_text(45016025, "web") == ""  # WEB omits Romans 16:25-27
    assert "stablish you" in verse_text(45016025, "kjv")


def test_impossible_verse_or_unknown_translation_is_empty_text():
    assert verse_text(43099001, "kjv") == ""
    assert verse_text(43003016, "niv") == ""


def test_verse_reference_is_canonical():
    assert scripture.verse_reference(45008028) == "Romans 8:28"
    assert scripture.verse_reference(19023001) == "Psalms 23:1"
