"""Pages -> overlapping passages of about CHUNK_WORDS words, each keeping its page span."""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.documents.extraction import Page

_WORD = re.compile(r"\S+")


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
    if overlap >= size:
        raise ValueError("The chunk overlap must be smaller than the chunk size.")
    words = [(match.group(), page.number) for page in pages for match in _WORD.finditer(page.text)]
    chunks: list[Chunk] = []
    step = size - overlap
    for start in range(0, len(words), step):
        window = words[start : start + size]
        if chunks and len(window) <= overlap:
            break  # only words the previous chunk already holds
        chunks.append(
            Chunk(
                index=len(chunks),
                text=" ".join(word for word, _ in window),
                page_start=window[0][1],
                page_end=window[-1][1],
            )
        )
    return chunks
