"""Pages -> overlapping passages of about CHUNK_WORDS words, each keeping its page span."""

from __future__ import annotations

from dataclasses import dataclass

from apps.documents.extraction import Page
from apps.knowledge.chunking import WORD, word_windows


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    page_start: int
    page_end: int


def chunk_pages(pages: list[Page], *, size: int, overlap: int) -> list[Chunk]:
    """A sliding window over the words of the whole document (passages may span pages).

    Deterministic: the same pages always give the same chunks, so a re-run replaces
    passages one for one."""
    words = [(match.group(), page.number) for page in pages for match in WORD.finditer(page.text)]
    chunks: list[Chunk] = []
    for index, window in enumerate(word_windows(len(words), size=size, overlap=overlap)):
        span = words[window]
        chunks.append(Chunk(index, " ".join(word for word, _ in span), page_start=span[0][1], page_end=span[-1][1]))
    return chunks
