"""Real files of every accepted type (and hostile ones), built on the fly for tests and benchmarks."""

from __future__ import annotations

import io
import zipfile

SAMPLE_PARAGRAPHS = [
    "Paul's argument in Romans reaches its height in Rom 8:28-30, where the golden chain of salvation runs "
    "from foreknowledge to glory.",
    "The Sermon on the Mount (Matt 5:3-7:29) opens with the Beatitudes; Luther read them as a mirror of the "
    "Christian life rather than a ladder to heaven.",
    "Love is patient and kind (1 Cor 13:4-7); Augustine saw in it the form of every virtue.",
    "Grace precedes faith, as John 3:16 and Eph 2:8-9 together make plain to the careful reader.",
]


def page_text(number: int) -> str:
    """Distinct text for page `number`, with a scripture reference on every page."""
    paragraph = SAMPLE_PARAGRAPHS[(number - 1) % len(SAMPLE_PARAGRAPHS)]
    return f"Page {number} marker-{number}. {paragraph} " + ("The commentary continues with further remarks. " * 12)


def pdf_bytes(pages: int = 3, *, text_for=page_text) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, text_for(number))
    return bytes(pdf.output())


def scanned_pdf_bytes(pages: int = 2) -> bytes:
    """Pages with drawings and no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 150, 200, style="F")
    return bytes(pdf.output())


def encrypted_pdf_bytes() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(1))))
    writer.encrypt(user_password="secret", owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_pdf_bytes() -> bytes:
    good = pdf_bytes(2)
    return good[:200] + b"\x00garbage\xff" * 50 + good[-100:]


def docx_bytes(pages: int = 3, *, headings: bool = True) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    for number in range(1, pages + 1):
        if headings:
            document.add_heading(f"Chapter {number}", level=1)
        paragraph = document.add_paragraph(page_text(number))
        if number < pages:
            paragraph.add_run().add_break(WD_BREAK.PAGE)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx_bytes(unpacked_mb: int = 300) -> bytes:
    """A DOCX-shaped ZIP whose document.xml unpacks to `unpacked_mb` MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        chunk = b"0" * (1024 * 1024)
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(unpacked_mb):
                member.write(chunk)
    return out.getvalue()


def html_bytes(pages: int = 2) -> bytes:
    body = "".join(f"<h2>Section {n}</h2><p>{page_text(n)}</p>" for n in range(1, pages + 1))
    return (
        "<!DOCTYPE html><html><head><title>Sermon</title><style>body{color:red}</style>"
        "<script>alert('xss-marker')</script></head><body>" + body + "</body></html>"
    ).encode()


def markdown_bytes(pages: int = 2) -> bytes:
    return "\n\n".join(f"# Part {n}\n\n{page_text(n)}" for n in range(1, pages + 1)).encode()


def text_bytes(pages: int = 3) -> bytes:
    """Pages separated by form feeds, as printed text exports have them."""
    return "\f".join(page_text(n) for n in range(1, pages + 1)).encode()


def book_pdf_bytes(
    pages: list[list[tuple[str, str]]],
    *,
    running_head: str = "",
    front_matter: int = 0,
    first_number: int = 1,
    labels: bool = True,
) -> bytes:
    """A printed book: each page a list of (kind, text) blocks, kind "h1" (16 pt bold),
    "h2" (12.5 pt bold) or "p" (11 pt body); a running head on every page, the printed page
    number in the footer (roman for the first `front_matter` pages, then arabic from
    `first_number`) and, with `labels`, the same numbering as the PDF's /PageLabels."""
    from fpdf import FPDF
    from fpdf.enums import PageLabelStyle

    from apps.index.pages import roman

    def printed(index: int) -> str:
        return roman(index) if index <= front_matter else str(index - front_matter - 1 + first_number)

    class Book(FPDF):
        def header(self) -> None:
            if running_head:
                self.set_font("Times", "I", 9)
                self.cell(0, 6, running_head, align="C", new_x="LMARGIN", new_y="NEXT")
                self.ln(4)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Times", "", 10)
            self.cell(0, 8, printed(self.page_no()), align="C")

    pdf = Book()
    fonts = {"h1": ("B", 16), "h2": ("B", 12.5), "p": ("", 11)}
    for index, blocks in enumerate(pages, start=1):
        pdf.add_page()
        if labels and index == 1 and front_matter:
            pdf.set_page_label(PageLabelStyle.LOWER_ROMAN)
        elif labels and index == front_matter + 1:
            pdf.set_page_label(PageLabelStyle.NUMBER, label_start=first_number)
        for kind, text in blocks:
            style, size = fonts[kind]
            pdf.set_font("Times", style, size)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())
