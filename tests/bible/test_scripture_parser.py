"""The reference parser around pythonbible: the cases readers type, and what it refuses."""

from __future__ import annotations

import pytest

from apps.bible.scripture import ScriptureParseError, find_references, parse_references, verse_ids_of


def canonical(text: str) -> list[str]:
    return [reference.canonical for reference in parse_references(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John 3:16, 1 Cor 13:4-7; Rom 8:28", ["John 3:16", "1 Corinthians 13:4-7", "Romans 8:28"]),
        ("Mt 5:3", ["Matthew 5:3"]),
        ("Mk 10:45", ["Mark 10:45"]),
        ("Jn 11:25", ["John 11:25"]),
        ("1 Cor 13:4", ["1 Corinthians 13:4"]),
        ("Ps 23:1", ["Psalms 23:1"]),
        ("Gen 1:1-3", ["Genesis 1:1-3"]),
        ("Matt 5:3-7:29", ["Matthew 5:3-7:29"]),
        ("Rom 8:28; 12:1-2", ["Romans 8:28", "Romans 12:1-2"]),
        ("Romans 8:28-30", ["Romans 8:28-30"]),
    ],
)
def test_parses_what_readers_type(text: str, expected: list[str]) -> None:
    assert canonical(text) == expected


def test_whole_chapters_cover_every_verse() -> None:
    (psalm,) = parse_references("Ps 23")
    assert len(psalm.verse_ids) == 6
    assert psalm.verse_ids[0] == 19023001
    assert len(verse_ids_of(parse_references("1 Cor 13"))) == 13


def test_ranges_across_chapters_give_every_verse_id() -> None:
    (sermon,) = parse_references("Matt 5:3-7:29")
    assert sermon.verse_ids[0] == 40005003 and sermon.verse_ids[-1] == 40007029
    assert 40006009 in sermon.verse_ids  # the Lord's Prayer is inside
    assert len(sermon.verse_ids) == 109


def test_comma_list_across_books_keeps_every_book() -> None:
    ids = verse_ids_of(parse_references("John 3:16, 1 Cor 13:4-7; Rom 8:28"))
    assert 43003016 in ids and 46013004 in ids and 46013007 in ids and 45008028 in ids
    assert 43003001 not in ids  # the "1" of "1 Cor" is not John 3:1


@pytest.mark.parametrize(
    ("text", "not_understood"),
    [
        ("", []),
        ("hello world", ["hello world"]),
        ("Hezekiah 3:16", ["Hezekiah 3:16"]),
        ("John 3:16 and then banana", ["banana"]),
        ("John 99:1", ["John 99:1"]),
    ],
)
def test_invalid_input_says_what_was_not_understood(text: str, not_understood: list[str]) -> None:
    with pytest.raises(ScriptureParseError) as raised:
        parse_references(text)
    for part in not_understood:
        assert any(part in piece for piece in raised.value.not_understood), raised.value.not_understood
    assert "Bible reference" in str(raised.value) or "reference" in str(raised.value)


def test_free_text_finds_citations_but_not_bare_book_names() -> None:
    found = [r.canonical for r in find_references("In Romans Paul argues (Rom 8:28; cf. Mt 5:3) that…")]
    assert found == ["Romans 8:28", "Matthew 5:3"]
