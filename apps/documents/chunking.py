"""Pages -> overlapping passages of about CHUNK_WORDS words, each keeping its page span."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from apps.documents.extraction import Page
from apps.index.chunking import WORD, word_windows


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    page_start: int
    page_end: int


def passage_count(pages: list[Page], *, size: int, overlap: int) -> int:
    """How many chunks chunk_pages would make, counted without holding a single word."""
    words = sum(1 for page in pages for _ in WORD.finditer(page.text))
    return len(word_windows(words, size=size, overlap=overlap))


def chunk_pages(pages: list[Page], *, size: int, overlap: int) -> list[Chunk]:
    """A sliding window over the words of the whole document (passages may span pages).

    The words are one flat list and each page remembers where its words start (no tuple
    per word). Deterministic: the same pages always give the same chunks, so a re-run
    replaces passages one for one."""
    words: list[str] = []
    starts: list[int] = []  # index of each page's first word (pages without words repeat it)
    for page in pages:
        starts.append(len(words))
        words.extend(WORD.findall(page.text))

    def page_of(word_index: int) -> int:
        return pages[bisect_right(starts, word_index) - 1].number

    return [
        Chunk(index, " ".join(words[window]), page_start=page_of(window.start), page_end=page_of(window.stop - 1))
        for index, window in enumerate(word_windows(len(words), size=size, overlap=overlap))
    ]
