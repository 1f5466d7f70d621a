"""Running heads, footers and page numbers, taken off a paginated document's pages before
it is chunked: they would otherwise sit in the middle of passages, in their search vector
and in their embedding ("AN EXPOSITION OF RUTH 47" between two halves of a sentence).

Only the edges of a page are looked at (its first and last EDGE_LINES lines with text).
A line there is a running element when
- with its digits and roman numerals set aside, it stands at that edge of at least
  REPEAT_SHARE of the pages (and of 3): a running head with or without its page number;
- it is the same text at an edge of at least 3 pages: a chapter's running head, which
  changes from chapter to chapter;
- it is a page number alone ("47", "xii", "- 3 -", "Page 3", "3 of 48").
A heading (see extract_layout) is kept unless the very same heading stands at an edge of
HEADING_REPEAT_SHARE of the pages. Body text is never touched, nor a line that occurs at a
page's edge once or twice.
"""

from __future__ import annotations

import re
from collections import Counter

from apps.documents.extract_layout import split_heading

EDGE_LINES = 2
REPEAT_SHARE = 0.3
HEADING_REPEAT_SHARE = 0.6
MIN_REPEATS = 3
_ROMAN = re.compile(r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})", re.IGNORECASE)
_DECOR = r"[\s\-\u2013\u2014\[\](){}|*]*"
_PAGE_NUMBER = re.compile(
    rf"^{_DECOR}(?:page\s+|p\.\s*)?(\w{{1,9}})(?:\s+of\s+\d{{1,5}})?{_DECOR}$",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def _is_number(word: str) -> bool:
    return word.isdigit() or bool(_ROMAN.fullmatch(word))


def is_page_number(line: str) -> bool:
    found = _PAGE_NUMBER.match(line.strip())
    return bool(found) and _is_number(found.group(1))


def _shape(line: str) -> str:
    """The line with its numbers set aside, case and spacing folded."""
    text = split_heading(line)[1].lower()
    return " ".join(_WORD.sub(lambda word: "#" if _is_number(word.group()) else word.group(), text).split())


def _edges(lines: list[str]) -> list[tuple[str, int]]:
    """(edge, line index) of the first and last EDGE_LINES lines that hold text."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    top = filled[:EDGE_LINES]
    bottom = [index for index in filled[-EDGE_LINES:] if index not in top]
    return [("top", index) for index in top] + [("bottom", index) for index in bottom]


def strip_running_heads(pages: list[str]) -> list[str]:
    """The pages' texts without their running heads, footers and page numbers."""
    split = [page.split("\n") for page in pages]
    shapes: Counter[tuple[str, str]] = Counter()
    exact: Counter[tuple[str, str]] = Counter()
    for lines in split:
        seen = {(edge, _shape(lines[index])) for edge, index in _edges(lines)}
        shapes.update(seen)
        exact.update({(edge, lines[index].strip()) for edge, index in _edges(lines)})
    filled = sum(1 for lines in split if any(line.strip() for line in lines))
    cleaned = []
    for lines in split:
        drop = {
            index
            for edge, index in _edges(lines)
            if _running(lines[index], shapes[(edge, _shape(lines[index]))], exact[(edge, lines[index].strip())], filled)
        }
        cleaned.append("\n".join(line for index, line in enumerate(lines) if index not in drop))
    return cleaned


def _running(line: str, shape_repeats: int, exact_repeats: int, pages: int) -> bool:
    """A heading goes only when the very same heading stands at the edge of most pages (a
    running head set large): "Chapter 1", "Chapter 2" opening their pages are headings."""
    if split_heading(line)[0] is not None:
        return exact_repeats >= max(MIN_REPEATS, HEADING_REPEAT_SHARE * pages)
    if shape_repeats >= max(MIN_REPEATS, REPEAT_SHARE * pages) and _shape(line).strip("# "):
        return True
    return exact_repeats >= MIN_REPEATS or is_page_number(line)
