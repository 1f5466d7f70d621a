"""Scripture references for the index: the verses a passage cites, and the verses a query
names. The canon and its parser live in `apps.bible`, a layer above the index, so the Bible
app registers its parser here when Django starts (`BibleConfig.ready`); until then, and in
an installation without it, nothing is found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class FoundReference(Protocol):
    """One canonical reference ("Romans 8:28-30") and the verse ids (BBCCCVVV) it covers."""

    @property
    def canonical(self) -> str: ...

    @property
    def verse_ids(self) -> tuple[int, ...]: ...


ReferenceFinder = Callable[[str], Sequence[FoundReference]]


def _nothing(text: str) -> Sequence[FoundReference]:
    return []


_finder: ReferenceFinder = _nothing


def reference_finder_register(finder: ReferenceFinder) -> None:
    global _finder
    _finder = finder


def references_find(text: str) -> list[FoundReference]:
    """The references cited in `text`, in order, without duplicates."""
    return list(_finder(text))


def verse_ids_of(references: Sequence[FoundReference]) -> list[int]:
    """All verse ids covered by the references, sorted, without duplicates."""
    return sorted({verse_id for reference in references for verse_id in reference.verse_ids})
