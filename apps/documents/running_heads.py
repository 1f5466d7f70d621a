"""Running heads, footers and page numbers, taken off a paginated document's pages before
it is chunked: they would otherwise sit in the middle of passages, in their search vector
and in their embedding ("AN EXPOSITION OF RUTH 47" between two halves of a sentence).

Only the edges of a page are looked at: its first and last EDGE_LINES lines with text,
peeled off from the outermost inwards while they are running elements. A line there is one
when it is a page number alone ("47", "xii", "- 3 -", "Page 3", "3 of 48"), or it is short
(at most MAX_RUNNING_WORDS words: a full line is body text) and
- with its digits and roman numerals set aside, it stands at that edge of at least
  REPEAT_SHARE of the pages (and of 3): a running head with or without its page number;
- it is the same text at an edge of at least 3 pages: a chapter's running head, which
  changes from chapter to chapter;
- it begins or ends with the page's own printed label ("Chapter 3: Utilities 6" on the
  page printed 6; "8 THE BOOK OF RUTH" on page 8).
A heading (see extract_layout) is kept unless the very same heading stands at an edge of
HEADING_REPEAT_SHARE of the pages. Body text is never touched, nor a line that occurs at a
page's edge once or twice.
"""

from __future__ import annotations

import re
from collections import Counter

from apps.documents.extract_layout import WEAK_LEVEL, split_heading

EDGE_LINES = 2
REPEAT_SHARE = 0.3
HEADING_REPEAT_SHARE = 0.6
MIN_REPEATS = 3
MAX_RUNNING_WORDS = 14
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
    return found is not None and _is_number(found.group(1))


def _shape(line: str) -> str:
    """The line with its numbers set aside, case and spacing folded."""
    text = split_heading(line)[1].lower()
    return " ".join(_WORD.sub(lambda word: "#" if _is_number(word.group()) else word.group(), text).split())


def _edges(lines: list[str]) -> dict[str, list[int]]:
    """The indexes of the first and last EDGE_LINES lines that hold text, outermost first."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    return {"top": filled[:EDGE_LINES], "bottom": filled[::-1][:EDGE_LINES]}


class _Repeats:
    """How many pages have each line, and each line's shape, at each edge."""

    def __init__(self, split: list[list[str]]) -> None:
        self.shapes: Counter[tuple[str, str]] = Counter()
        self.exact: Counter[tuple[str, str]] = Counter()
        for lines in split:
            edges = _edges(lines)
            self.shapes.update({(edge, _shape(lines[i])) for edge, indexes in edges.items() for i in indexes})
            self.exact.update({(edge, lines[i].strip()) for edge, indexes in edges.items() for i in indexes})
        self.pages = sum(1 for lines in split if any(line.strip() for line in lines))

    def running(self, line: str, edge: str, label: str) -> bool:
        """A heading goes only when the very same heading stands at the edge of most pages
        (a running head set large): "Chapter 1", "Chapter 2" opening their pages stay. A
        heading found by its words alone is weighed like any line."""
        exact = self.exact[(edge, line.strip())]
        level = split_heading(line)[0]
        if level is not None and level < WEAK_LEVEL:
            return exact >= max(MIN_REPEATS, HEADING_REPEAT_SHARE * self.pages)
        if is_page_number(line):
            return True
        words = split_heading(line)[1].split()
        if len(words) > MAX_RUNNING_WORDS:  # a full line of text is body text
            return False
        if label and words and label.lower() in (words[0].lower(), words[-1].lower()):
            return True  # "Chapter 3: Utilities 6" on the page printed 6
        shape = _shape(line)
        repeated_shape = self.shapes[(edge, shape)] >= max(MIN_REPEATS, REPEAT_SHARE * self.pages)
        return (repeated_shape and bool(shape.strip("# "))) or exact >= MIN_REPEATS


def strip_running_heads(pages: list[str], labels: list[str] | None = None) -> list[str]:
    """The pages' texts without their running heads, footers and page numbers: peeled off
    each edge, outermost line first, until a line that is not one. `labels`: each page's
    printed page, when the file has them."""
    split = [page.split("\n") for page in pages]
    repeats = _Repeats(split)
    cleaned = []
    for number, lines in enumerate(split):
        label = labels[number] if labels else ""
        drop: set[int] = set()
        for edge, indexes in _edges(lines).items():
            for index in indexes:
                if index in drop or not repeats.running(lines[index], edge, label):
                    break
                drop.add(index)
        cleaned.append("\n".join(line for index, line in enumerate(lines) if index not in drop))
    return cleaned
