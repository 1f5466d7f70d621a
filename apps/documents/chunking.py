"""Pages -> overlapping passages of about CHUNK_WORDS words, each keeping its page span, its
printed page and the section it sits under.

Chunks follow the document's headings: a heading starts a new section, and the windows of
words never cross from one section into the next (a section shorter than a window is one
short passage). Headings that follow one another with no text between them (a chapter's
title, then its first subheading) open a single section. The heading lines stay in the
text: the first passage of a section begins with its heading's words.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from apps.documents.extraction import Page
from apps.index.chunking import WORD, embedding_text, word_windows

HEADING_CHARS = 150  # one heading within it
SECTION_DEPTH = 2  # "Chapter 3 › Verses 1-5": the heading and the one above it
SEPARATOR = " › "


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    page_start: int
    page_end: int
    page_label: str = ""
    section: str = ""

    @property
    def embedding_text(self) -> str:
        return embedding_text(text=self.text, section=self.section)


@dataclass
class _Section:
    """The words of one section, the pages they lie on (each page's first word index),
    and the headings it sits under."""

    title: str = ""
    words: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    body: bool = False  # has words besides its own headings

    def add(self, page: Page, words: list[str]) -> None:
        if not self.pages or self.pages[-1] is not page:
            self.pages.append(page)
            self.starts.append(len(self.words))
        self.words.extend(words)

    def page_of(self, word_index: int) -> Page:
        return self.pages[bisect_right(self.starts, word_index) - 1]


def _title(stack: list[tuple[int, str]]) -> str:
    return SEPARATOR.join(text[:HEADING_CHARS] for _, text in stack[-SECTION_DEPTH:])


def _sections(pages: list[Page]) -> Iterator[_Section]:
    """The document's sections in order, one at a time (only one section's words are held)."""
    stack: list[tuple[int, str]] = []  # (level, heading text) of the headings above
    current = _Section()
    for page in pages:
        levels = dict(page.headings)
        for index, line in enumerate(page.text.split("\n")):
            words = WORD.findall(line)
            if not words:
                continue
            level = levels.get(index)
            if level is not None:
                if current.body:
                    yield current
                    current = _Section()
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, " ".join(words)))
            else:
                current.body = True
            current.title = _title(stack)
            current.add(page, words)
    if current.words:
        yield current


def passage_count(pages: list[Page], *, size: int, overlap: int) -> int:
    """How many chunks chunk_pages would make, counted before any passage is built (and
    holding one section's words at a time)."""
    return sum(len(word_windows(len(section.words), size=size, overlap=overlap)) for section in _sections(pages))


def chunk_pages(pages: list[Page], *, size: int, overlap: int) -> list[Chunk]:
    """Sliding windows of words within each section (a passage may span pages, never
    sections). Deterministic: the same pages always give the same chunks, so a re-run
    replaces passages one for one."""
    chunks: list[Chunk] = []
    for section in _sections(pages):
        for window in word_windows(len(section.words), size=size, overlap=overlap):
            first, last = section.page_of(window.start), section.page_of(window.stop - 1)
            chunks.append(
                Chunk(
                    len(chunks),
                    " ".join(section.words[window]),
                    page_start=first.number,
                    page_end=last.number,
                    page_label=first.printed,
                    section=section.title,
                )
            )
    return chunks
