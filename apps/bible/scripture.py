"""Scripture references: parsing (a wrapper around pythonbible) and Bible text.

pythonbible drops or misreads references after a comma between books ("John 3:16,
1 Cor 13:4" reads "1" as John 3:1 and loses 1 Corinthians) and does not know some common
abbreviations ("Mt", "Mk", "Lk", "Dt", "Ex"). So the text is split at every book name
and each piece is parsed on its own, after the abbreviations are spelled out.

Verse ids are pythonbible's integers BBCCCVVV (John 3:16 = 43003016).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import pythonbible as bible
from pythonbible.bible.errors import VersionMissingVerseError
from pythonbible.regular_expressions import BOOK, SCRIPTURE_REFERENCE_REGULAR_EXPRESSION

from apps.core.cache import cached
from apps.index.references import verse_ids_of as verse_ids_of  # the one copy, re-exported

SCRIPTURE_CACHE_SECONDS = 24 * 3600

TRANSLATIONS = {"kjv": bible.Version.KING_JAMES, "web": bible.Version.WORLD_ENGLISH}
DEFAULT_TRANSLATION = "web"

# Abbreviations pythonbible does not know; spelled out only before a chapter number.
_EXTRA_ABBREVIATIONS = {
    "Mt": "Matthew",
    "Mk": "Mark",
    "Mr": "Mark",
    "Lk": "Luke",
    "Ex": "Exodus",
    "Dt": "Deuteronomy",
    "Nm": "Numbers",
    "Jdg": "Judges",
}
_ABBREVIATION = re.compile(r"\b(" + "|".join(_EXTRA_ABBREVIATIONS) + r")\b\.?(?=\s*\d)")
# "Is" is an English word: only "Is 53:5" (chapter:verse) means Isaiah.
_ISAIAH = re.compile(r"\bIs\.?(?=\s*\d{1,3}\s*:\s*\d)")
_BOOK = re.compile(BOOK, re.IGNORECASE)
_CHAPTER_FOLLOWS = re.compile(r"\s*\d")  # used with .match: anchored
_LEFTOVER_SEPARATORS = re.compile(r"(?:[,;&]|\band\b|\bcf\.?|\s)+", re.IGNORECASE)


@dataclass(frozen=True)
class ScriptureReference:
    """One canonical reference ("Romans 8:28-30") and the verse ids it covers."""

    canonical: str
    verse_ids: tuple[int, ...]


class ScriptureParseError(ValueError):
    def __init__(self, message: str, *, not_understood: list[str]) -> None:
        super().__init__(message)
        self.not_understood = not_understood


def _spell_out_abbreviations(text: str) -> str:
    text = _ABBREVIATION.sub(lambda m: _EXTRA_ABBREVIATIONS[m.group(1)], text)
    return _ISAIAH.sub("Isaiah", text)


def _segments(text: str) -> tuple[str, list[str]]:
    """Split at every book name: (the text before the first book, [book segments]).

    Each segment runs from a book name to the next one, so "John 3:16, 1 Cor 13:4" gives
    "John 3:16, " and "1 Cor 13:4" (the "1" belongs to the next book, not to John)."""
    starts = [m.start() for m in _BOOK.finditer(text)]
    if not starts:
        return text, []
    bounds = [*starts, len(text)]
    return text[: starts[0]], [text[a:b] for a, b in itertools.pairwise(bounds)]


# Where a book name may start a citation: a word (with a 1/2/3 or I/II/III prefix, or
# "Song of Songs") followed by a chapter number. Trying the long book-name alternation
# only at these positions is ~10x faster on long text than scanning every position.
_CITATION_START = re.compile(r"(?=\b(?:[123]\s*|I{1,3}\s+)?[A-Za-z]+(?:\s+of\s+[A-Za-z]+)?\.?\s*\d)")


def _cited_segments(text: str) -> list[str]:
    """Segments that start with a book name followed by a chapter number (see _segments)."""
    starts: list[int] = []
    covered_until = -1
    for candidate in _CITATION_START.finditer(text):
        position = candidate.start()
        if position < covered_until:
            continue
        book = _BOOK.match(text, position)
        if book is not None and _CHAPTER_FOLLOWS.match(text, book.end()):
            starts.append(position)
            covered_until = book.end()
    bounds = [*starts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _pieces(segment: str) -> list[str]:
    """ "Rom 8:28; 12:1-2" cites Romans twice: a part after a semicolon that starts with a
    chapter number belongs to the segment's book (pythonbible drops it)."""
    book = _BOOK.match(segment)
    first, *rest = segment.split(";")
    pieces = [first]
    for part in rest:
        pieces.append(f"{book.group()} {part.strip()}" if book and _CHAPTER_FOLLOWS.match(part) else part)
    return [piece for piece in pieces if piece.strip(" ,;")]


@lru_cache(maxsize=4096)
def _cited(citation: str) -> tuple[ScriptureReference, ...]:
    """One citation as written ("Rom 8:28-30, 32"); books cite the same verses again and again."""
    return tuple(_references_in(citation, cited_only=True))


def _references_in(piece: str, *, cited_only: bool = False) -> list[ScriptureReference]:
    """References in one piece; `cited_only` drops bare book names (no chapter)."""
    references = []
    for normalized in bible.get_references(piece):
        if cited_only and normalized.start_chapter is None:
            continue
        try:
            verse_ids = tuple(bible.convert_reference_to_verse_ids(normalized))
            canonical = bible.format_scripture_references([normalized])
        except (bible.InvalidVerseError, bible.InvalidChapterError, ValueError, KeyError):
            continue  # e.g. "John 99:1": not a real verse
        if verse_ids:
            references.append(ScriptureReference(canonical=canonical, verse_ids=verse_ids))
    return references


def find_references(text: str) -> list[ScriptureReference]:
    """Every chapter or verse reference in free text, in order, without duplicates.

    A bare book name ("in Romans Paul argues") is not a reference here: tagging a passage
    with a whole book would make it match every verse of it."""
    seen: set[str] = set()
    found = []
    for segment in _cited_segments(_spell_out_abbreviations(text)):
        for piece in _pieces(segment):
            citation = SCRIPTURE_REFERENCE_REGULAR_EXPRESSION.match(piece)  # the piece starts with it
            for reference in _cited(citation.group().strip()) if citation else ():
                if reference.canonical not in seen:
                    seen.add(reference.canonical)
                    found.append(reference)
    return found


def parse_references(query: str) -> list[ScriptureReference]:
    """A query made only of references ("John 3:16, 1 Cor 13:4-7; Rom 8:28", "Ps 23",
    "Matt 5:3-7:29"). Raises ScriptureParseError naming what was not understood."""
    text = _spell_out_abbreviations(query.strip())
    if not text:
        raise ScriptureParseError("Give a reference such as Romans 8:28.", not_understood=[])
    references: list[ScriptureReference] = []
    not_understood: list[str] = []
    leading, segments = _segments(text)
    if leading.strip(" ,;"):
        not_understood.append(leading.strip(" ,;"))
    for piece in (piece for segment in segments for piece in _pieces(segment)):
        parsed = _references_in(piece)
        if not parsed:
            not_understood.append(piece.strip(" ,;"))
            continue
        references.extend(parsed)
        leftover = _LEFTOVER_SEPARATORS.sub(" ", SCRIPTURE_REFERENCE_REGULAR_EXPRESSION.sub(" ", piece)).strip()
        if leftover:
            not_understood.append(leftover)
    if not_understood or not references:
        parts = "; ".join(f"“{part}”" for part in not_understood) or f"“{query.strip()}”"
        raise ScriptureParseError(
            f"Could not understand {parts} as a Bible reference (e.g. Romans 8:28-30, John 3, Ps 23).",
            not_understood=not_understood or [query.strip()],
        )
    return _unique(references)


def _unique(references: list[ScriptureReference]) -> list[ScriptureReference]:
    first: dict[str, ScriptureReference] = {}
    for reference in references:
        first.setdefault(reference.canonical, reference)
    return list(first.values())


@lru_cache(maxsize=65536)
def verse_reference(verse_id: int) -> str:
    """Canonical "Book C:V" for one verse id."""
    return bible.format_scripture_references(bible.convert_verse_ids_to_references([verse_id]))


def verse_text(verse_id: int, translation: str = DEFAULT_TRANSLATION) -> str:
    """The text of one verse, or "" where a translation lacks it (WEB has no Romans 16:25-27)."""
    try:
        return bible.get_verse_text(verse_id, version=TRANSLATIONS[translation])
    except (bible.InvalidVerseError, VersionMissingVerseError, KeyError, ValueError):
        return ""


# --- reading passages -----------------------------------------------------------------------


class TooManyVerses(ValueError):
    pass


@dataclass(frozen=True)
class Verse:
    id: int
    reference: str
    book: str
    chapter: int
    verse: int
    text: str


@dataclass(frozen=True)
class ScripturePassage:
    """What a reader asked for: the canonical references, their verses in one translation,
    and the verses this translation lacks (WEB has no Romans 16:25-27)."""

    translation: str
    references: list[ScriptureReference]
    verses: list[Verse]
    missing: list[str]

    @property
    def chapters(self) -> list[tuple[int, int]]:
        """(book number, chapter) of every chapter the passage touches, in order."""
        return list(dict.fromkeys((verse.id // 1_000_000, verse.id // 1000 % 1000) for verse in self.verses))


def _verse(verse_id: int, text: str) -> Verse:
    book, chapter, number = verse_id // 1_000_000, verse_id // 1000 % 1000, verse_id % 1000
    return Verse(verse_id, verse_reference(verse_id), bible.Book(book).title, chapter, number, text)


def scripture_lookup(*, ref: str, translation: str = DEFAULT_TRANSLATION, max_verses: int = 500) -> ScripturePassage:
    """The verses a reference names, in one translation. Raises ScriptureParseError for a
    reference that cannot be read, TooManyVerses past `max_verses`. The texts ship in a
    package and never change: a lookup is cached a day (core.cache; refusals are not)."""
    if translation not in TRANSLATIONS:
        raise KeyError(translation)
    return cached(
        "scripture",
        f"{translation}\n{max_verses}\n{ref}",
        lambda: _looked_up(ref, translation, max_verses),
        timeout=SCRIPTURE_CACHE_SECONDS,
    )


def _looked_up(ref: str, translation: str, max_verses: int) -> ScripturePassage:
    references = parse_references(ref)
    verse_ids = list(dict.fromkeys(verse_id for reference in references for verse_id in reference.verse_ids))
    if len(verse_ids) > max_verses:
        raise TooManyVerses(
            f"{len(verse_ids)} verses is more than the {max_verses} Theo shows at once; ask for a chapter or a range."
        )
    verses, missing = [], []
    for verse_id in verse_ids:
        text = verse_text(verse_id, translation)
        if text:
            verses.append(_verse(verse_id, text))
        else:
            missing.append(verse_reference(verse_id))
    return ScripturePassage(translation=translation, references=references, verses=verses, missing=missing)


def chapter_reference(book: int, chapter: int) -> str:
    return f"{bible.Book(book).title} {chapter}"


def neighbour_chapter(book: int, chapter: int, step: int) -> tuple[int, int] | None:
    """The chapter before (step -1) or after (+1), across book boundaries; None at the ends."""
    chapter += step
    if chapter < 1:
        if book == 1:
            return None
        book -= 1
        return book, bible.get_number_of_chapters(bible.Book(book))
    if chapter > bible.get_number_of_chapters(bible.Book(book)):
        return (book + 1, 1) if book < 66 else None
    return book, chapter
