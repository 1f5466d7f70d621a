"""The Bibles (KJV and WEB from pythonbible) as verse passages: one passage per verse,
public, located by its canonical reference. Loading is idempotent: rows are keyed by
(translation, verse id), so a restart inserts only what is missing.

Verses are inserted without vectors first (full-text and reference search work at once);
`bible.tasks.embed_pending_bible_task` then embeds them in the background."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import pythonbible as bible
import redis
from django.core.cache import cache
from django.db.models import Count, Q

from apps.bible.scripture import TRANSLATIONS, verse_reference, verse_text
from apps.index.embeddings import model_name
from apps.index.models import Passage
from apps.index.selectors import PassageAccess
from apps.index.services import (
    PassageText,
    passages_build,
    passages_chunk_indexes,
    passages_insert_missing,
)
from apps.index.text_ranking import word_statistics_refresh

TRANSLATION_TITLES = {"kjv": "King James Version", "web": "World English Bible"}
CANON = [book for book in bible.Book if book.value <= 66]  # pythonbible also lists the Apocrypha
_STATUS_CACHE_KEY = "knowledge:bible-status"  # the key it had before the Bible became an app


def translation_source_id(translation: str) -> uuid.UUID:
    """A stable id per translation: the passages' source_id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"theo:bible:{translation}")


def canon_verse_ids(books: Iterable[bible.Book] | None = None) -> Iterator[int]:
    for book in books or CANON:
        for chapter in range(1, bible.get_number_of_chapters(book) + 1):
            for verse in range(1, bible.get_number_of_verses(book, chapter) + 1):
                yield book.value * 1_000_000 + chapter * 1000 + verse


@lru_cache(maxsize=4)
def expected_verse_count(translation: str) -> int:
    """Verses the translation has (WEB lacks Romans 16:25-27)."""
    return sum(1 for verse_id in canon_verse_ids() if verse_text(verse_id, translation))


def _verse_texts(translation: str, verse_ids: Iterable[int], existing: set[int]) -> Iterator[PassageText]:
    for verse_id in verse_ids:
        if verse_id in existing:
            continue
        text = verse_text(verse_id, translation)
        if text:
            # The verse id itself is the chunk index: stable, and sorts in canonical order.
            yield PassageText(
                text,
                reference=verse_reference(verse_id),
                translation=translation,
                chunk_index=verse_id,
                verse_ids=(verse_id,),
            )


def bible_load(*, translation: str, books: Iterable[bible.Book] | None = None) -> int:
    """Insert the translation's missing verses (no vectors yet); returns how many."""
    if translation not in TRANSLATIONS:
        raise ValueError(f"Unknown translation {translation!r}; choose one of {', '.join(TRANSLATIONS)}.")
    source_id = translation_source_id(translation)
    existing = passages_chunk_indexes(source_kind=Passage.SourceKind.BIBLE, source_id=source_id)
    inserted = passages_insert_missing(
        source_kind=Passage.SourceKind.BIBLE,
        source_id=source_id,
        title=TRANSLATION_TITLES[translation],
        passages=passages_build(list(_verse_texts(translation, canon_verse_ids(books), existing))),
        access=PassageAccess(visibility=Passage.Visibility.PUBLIC),
    )
    cache.delete(_STATUS_CACHE_KEY)
    return inserted


def bibles_load(*, books: Iterable[bible.Book] | None = None) -> dict[str, int]:
    books = list(books) if books else None
    inserted = {translation: bible_load(translation=translation, books=books) for translation in TRANSLATIONS}
    if any(inserted.values()):
        word_statistics_refresh()
    return inserted


@dataclass(frozen=True)
class TranslationStatus:
    translation: str
    title: str
    total: int  # verses the translation has
    loaded: int  # verse passages stored (searchable by text and reference)
    embedded: int  # of those, with a vector from the configured model

    @property
    def percent(self) -> int:
        return int(100 * self.embedded / self.total) if self.total else 100

    @property
    def complete(self) -> bool:
        return self.embedded >= self.total


def _cached_counts() -> dict[str, tuple[int, int]] | None:
    try:
        return cache.get(_STATUS_CACHE_KEY)
    except redis.RedisError:
        return None


def bible_status(*, cached: bool = True) -> list[TranslationStatus]:
    """How far loading and embedding have come, per translation (cached a few seconds:
    the /search page polls it). With Redis down it counts every time instead of failing."""
    counts = _cached_counts() if cached else None
    if counts is None:
        rows = (
            Passage.objects.filter(source_kind=Passage.SourceKind.BIBLE)
            .values("translation")
            .annotate(
                loaded=Count("id"),
                embedded=Count("id", filter=Q(embedding__isnull=False, embedding_model=model_name())),
            )
        )
        counts = {row["translation"]: (row["loaded"], row["embedded"]) for row in rows}
        with contextlib.suppress(redis.RedisError):
            cache.set(_STATUS_CACHE_KEY, counts, 5)
    return [
        TranslationStatus(
            translation=translation,
            title=TRANSLATION_TITLES[translation],
            total=expected_verse_count(translation),
            loaded=counts.get(translation, (0, 0))[0],
            embedded=counts.get(translation, (0, 0))[1],
        )
        for translation in TRANSLATIONS
    ]
