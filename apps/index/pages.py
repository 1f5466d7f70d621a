"""The printed pages of a passage, as readers see them in citations and on pages."""

from __future__ import annotations


def printed_pages(*, page_label: str, page_start: int | None, page_end: int | None) -> str:
    """'p. xii', 'pp. 46–47': the printed pages, from the label of the first page (the page
    number where a passage has none) and the span, counted on from the first label (a
    label neither arabic nor roman: 'pp. A-3ff.'); "" without pages."""
    if not page_start:
        return ""
    first = page_label or str(page_start)
    span = (page_end or page_start) - page_start
    if span <= 0:
        return f"p. {first}"
    last = str(int(first) + span) if first.isdigit() else _roman_plus(first, span)
    return f"pp. {first}–{last}" if last else f"pp. {first}ff."


_ROMAN_VALUES = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


def _roman_plus(label: str, span: int) -> str:
    """The roman numeral `span` pages after `label` ('xii' + 1 = 'xiii'), in its case; ""
    when the label is not a roman numeral."""
    value, rest = 0, label.lower()
    for number, digits in _ROMAN_VALUES:
        while rest.startswith(digits):
            value, rest = value + number, rest[len(digits) :]
    if rest or not value:
        return ""
    out = roman(value + span)
    return out.upper() if label.isupper() else out


def roman(value: int) -> str:
    """A lower-case roman numeral."""
    out = ""
    for number, digits in _ROMAN_VALUES:
        while value >= number:
            out, value = out + digits, value - number
    return out
