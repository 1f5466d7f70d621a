"""Render the book set's text.md to a PDF: one PDF page per `<!-- page -->` block, never re-flowed.

Usage: python bench/eval/book/render.py OUT.pdf [TEXT.md]

Pages 1-4 are front matter, printed and labelled i-iv (/PageLabels); the body restarts at 1.
"""

import sys
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import PageLabelStyle

TITLE = "An Exposition of the Book of Ruth, after Matthew Henry"
FRONT_MATTER = 4
PAGE_BREAK = "<!-- page -->"
LATIN1 = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--"})


def latin1(text: str) -> str:
    """Make text safe for the PDF core fonts (latin-1 only)."""
    return text.translate(LATIN1).encode("latin-1", "replace").decode("latin-1")


def roman(n: int) -> str:
    """Lower-case roman numeral (enough for front matter)."""
    out = ""
    for value, digits in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out, n = out + digits, n - value
    return out


def printed_label(index: int) -> str:
    """The printed page number of the 1-based PDF page `index`."""
    return roman(index) if index <= FRONT_MATTER else str(index - FRONT_MATTER)


def split_pages(markdown: str) -> list[str]:
    """The fixed pages of the text, in order."""
    return [page.strip() for page in markdown.split(PAGE_BREAK) if page.strip()]


class Book(FPDF):
    def header(self) -> None:
        self.set_font("Times", "I", 9)
        self.cell(0, 6, latin1(TITLE), align="C", new_x="LMARGIN", new_y="NEXT")
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Times", "", 10)
        self.cell(0, 8, printed_label(self.page_no()), align="C")


def write_page(pdf: Book, page: str) -> None:
    for raw in page.splitlines():
        line = latin1(raw.strip())
        if not line:
            pdf.ln(2)
        elif line.startswith("## "):
            pdf.set_font("Times", "B", 12)
            pdf.multi_cell(0, 6, line[3:], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif line.startswith("# "):
            pdf.set_font("Times", "B", 15)
            pdf.multi_cell(0, 7, line[2:], align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        else:
            pdf.set_font("Times", "", 11)
            pdf.multi_cell(0, 5, line, align="J", new_x="LMARGIN", new_y="NEXT")


def render(text_path: Path, out_path: Path) -> int:
    """Write the PDF and return its page count; fail if any text page overflows its PDF page."""
    pdf = Book(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(22, 18, 22)
    pdf.set_title(latin1(TITLE))
    pdf.set_author("Matthew Henry (abridged)")
    for index, page in enumerate(split_pages(text_path.read_text(encoding="utf-8")), start=1):
        pdf.add_page()
        if index == 1:
            pdf.set_page_label(PageLabelStyle.LOWER_ROMAN)
        elif index == FRONT_MATTER + 1:
            pdf.set_page_label(PageLabelStyle.NUMBER, label_start=1)
        write_page(pdf, page)
        if pdf.get_y() > pdf.h - 20:
            raise SystemExit(f"page {index} overflows ({pdf.get_y():.0f} mm)")
    pdf.output(str(out_path))
    return pdf.page_no()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    source = Path(sys.argv[2]) if len(sys.argv) == 3 else Path(__file__).with_name("text.md")
    print(f"{render(source, Path(sys.argv[1]))} pages -> {sys.argv[1]}")
