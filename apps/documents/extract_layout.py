"""Headings in extracted text: found from a PDF page's layout (font sizes, bold) or from a
format's own markup, and marked on their line for the parent to read.

Standard library only: extract_child.py (which imports nothing of Theo's) loads this file
by its path, and the parent imports it as `apps.documents.extract_layout`, so both sides
agree on the mark. A heading line is HEADING_MARK, its level (1-6), then its text; the
mark is removed from the file's own text first, so a file cannot forge one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

HEADING_MARK = "\ue000"
# Headings found by their words alone ("CHAPTER III." in the body font, a short bold line)
# are the deepest level: the parent also weighs them as possible running heads.
WEAK_LEVEL = 6
MAX_HEADING_SHARE = 0.15  # a font size holding more of a PDF's text than this is body text
MAX_HEADING_LEVELS = 4  # sized levels; bold or "CHAPTER III." lines at body size come below them
_LEADERS = re.compile(r"\.{4,}|…{2,}|(?:\. ){3,}|_{4,}")
_HEADING_WORDS = re.compile(
    r"^(?:chapter|chap\.|book|part|section|lecture|sermon|homily|discourse|psalm|article|canto|letter|epistle)"
    r"\s+(?:[ivxlcdm]+|\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth)\b([.:]?)",
    re.IGNORECASE,
)
_VERSES = re.compile(r"^(?:verses?|vv?\.|ver\.)\s*\d+(?:\s*[-\u2013\u2014]\s*\d+)?\b([.:,]?)", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

# A line of a PDF page: its text, the font size most of its characters are set in, and
# whether they are all bold.
Line = tuple[str, float, bool]


def heading(text: str, level: int) -> str:
    return f"{HEADING_MARK}{min(max(level, 1), 6)}{text.strip()}"


def split_heading(line: str) -> tuple[int | None, str]:
    """(level, text) of a marked heading line; (None, line) for any other line."""
    if line.startswith(HEADING_MARK) and len(line) > 1 and line[1].isdigit():
        return int(line[1]), line[2:]
    return None, line


def unmarked(text: str) -> str:
    return text.replace(HEADING_MARK, "")


def heading_shaped(text: str) -> bool:
    """Short, with letters, and no table-of-contents leaders."""
    stripped = text.strip()
    return (
        0 < len(stripped) <= 120
        and len(stripped.split()) <= 16
        and any(ch.isalpha() for ch in stripped)
        and not _LEADERS.search(stripped)
    )


def looks_like_heading(text: str) -> bool:
    """'CHAPTER III.', 'Book 2: Of Faith', 'Verses 1-5: ...': a very short line, or one whose
    number is followed by a stop or a colon (a line that merely starts 'Chapter 3 of Romans
    shows ...' is not one)."""
    stripped = text.strip()
    if not heading_shaped(stripped):
        return False
    match = _HEADING_WORDS.match(stripped) or _VERSES.match(stripped)
    return bool(match) and (len(stripped.split()) <= 5 or bool(match and match.group(1)))


def mark_text_headings(text: str, *, markdown: bool) -> str:
    """Markdown '#' lines (outside code fences) and, in any text, a line like 'CHAPTER III.'
    standing alone between blank lines."""
    lines = text.split("\n")
    fenced = False
    for number, line in enumerate(lines):
        if markdown and _FENCE.match(line):
            fenced = not fenced
            continue
        found = _MARKDOWN_HEADING.match(line) if markdown and not fenced else None
        if found:
            lines[number] = heading(found.group(2), len(found.group(1)))
        elif not fenced and _alone(lines, number) and looks_like_heading(line):
            lines[number] = heading(line, WEAK_LEVEL)
    return "\n".join(lines)


def _alone(lines: list[str], number: int) -> bool:
    before = lines[number - 1] if number > 0 else ""
    after = lines[number + 1] if number + 1 < len(lines) else ""
    return not before.strip() and not after.strip()


# --- PDF ------------------------------------------------------------------------------


def page_lines(page: Any, take: Callable[[str], str]) -> list[Line]:
    """The page's text as pypdf lays it out (the fragments its visitor sees, joined, are
    exactly extract_text()), line by line with the font of each line."""
    fragments: list[tuple[str, float, bool]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        fragments.append((text, effective_size(size, tm, cm), is_bold(font)))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # one unreadable page should not lose the book
        return []
    lines: list[Line] = []
    parts: list[str] = []
    weights: dict[tuple[float, bool], int] = {}
    for text, size, bold in fragments:
        for position, piece in enumerate(take(unmarked(text)).split("\n")):
            if position:
                lines.append(_line("".join(parts), weights))
                parts, weights = [], {}
            parts.append(piece)
            weights[(size, bold)] = weights.get((size, bold), 0) + len(piece.strip())
    lines.append(_line("".join(parts), weights))
    return lines


def _line(text: str, weights: dict[tuple[float, bool], int]) -> Line:
    if not any(weights.values()):
        return text, 0.0, False
    size, _ = max(weights, key=lambda key: weights[key])
    return text, size, all(bold for (_, bold), chars in weights.items() if chars)


def effective_size(size: Any, tm: Any, cm: Any) -> float:
    """The size a reader sees: the font size scaled by the text and transformation matrices
    (TeX sets 1 pt fonts and scales them by the text matrix), to the half point."""
    try:
        scale = 1.0
        for matrix in (tm, cm):
            determinant = abs(float(matrix[0]) * float(matrix[3]) - float(matrix[1]) * float(matrix[2]))
            if determinant > 0:
                scale *= determinant**0.5
        return round(float(size) * scale * 2) / 2
    except (TypeError, ValueError, IndexError):
        return 0.0


def is_bold(font: Any) -> bool:
    try:
        name = str(font.get("/BaseFont", "")) if font else ""
    except Exception:
        return False
    return any(word in name.lower() for word in ("bold", "black", "heavy", "semibold"))


def heading_levels(layouts: list[list[Line]]) -> dict[float, int]:
    """The heading level of each font size set larger than the body's and used sparingly
    (a size holding a large share of the text is body text too); larger is higher. The
    body size itself gets the level below them all."""
    chars: dict[float, int] = {}
    for lines in layouts:
        for text, size, _ in lines:
            chars[size] = chars.get(size, 0) + len(text.strip())
    total = sum(chars.values())
    if not total:
        return {}
    body = max(chars, key=lambda size: chars[size])
    larger = [
        size
        for size, count in chars.items()
        if size >= body * 1.05 and size - body >= 0.9 and count <= total * MAX_HEADING_SHARE
    ]
    levels = {size: level for level, size in enumerate(sorted(larger, reverse=True)[:MAX_HEADING_LEVELS], start=1)}
    levels[body] = len(levels) + 1
    return levels


def mark_pdf_line(line: Line, levels: dict[float, int]) -> str:
    """A short line in a heading size, or a short bold line or a 'CHAPTER III.' line at body size."""
    text, size, bold = line
    if not heading_shaped(text):
        return text
    body_level = max(levels.values(), default=1)
    level = levels.get(size)
    if level is not None and level < body_level:
        return heading(text, level)
    if size >= levels_body_size(levels) and ((bold and len(text.split()) <= 10) or looks_like_heading(text)):
        return heading(text, WEAK_LEVEL)
    return text


def levels_body_size(levels: dict[float, int]) -> float:
    body_level = max(levels.values(), default=1)
    return next((size for size, level in levels.items() if level == body_level), 0.0)
