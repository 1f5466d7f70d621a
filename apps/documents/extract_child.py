"""Text extraction from an untrusted file, run as a child process (see extraction.py).

    python -m apps.documents.extract_child <path> <file_type> <memory_mb> <cpu_seconds>

Caps its own address space and CPU time first, then prints one JSON object:
{"pages": [{"page": 1, "text": "..."}, ...], "paginated": true} or {"error": "reason"}.
"paginated" is false when the format has no pages of its own (text, HTML, a DOCX
without page breaks); the parent then numbers pages of about PAGE_CHARS characters.

No Django here: the child starts fast and touches nothing but the one file.
"""

from __future__ import annotations

import errno
import json
import re
import resource
import sys
import zipfile
from typing import Any

MAX_DOCX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_DOCX_RATIO = 200  # unpacked / packed: far beyond any real document


class ExtractionError(Exception):
    """A readable reason the file cannot be read."""


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


# --- formats ------------------------------------------------------------------------


def extract_pdf(path: str) -> tuple[list[dict[str, Any]], bool]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is encrypted. Upload a copy without a password.")
        pages: list[dict[str, Any]] = [
            {"page": number, "text": _page_text(page)} for number, page in enumerate(reader.pages, start=1)
        ]
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ExtractionError(f"The PDF is damaged and could not be read ({type(exc).__name__}).") from exc
    except Exception as exc:
        if "encrypt" in str(exc).lower() or "crypt" in type(exc).__name__.lower():
            raise ExtractionError("The PDF is encrypted. Upload a copy without a password.") from exc
        raise
    if not any(page["text"].strip() for page in pages):
        raise ExtractionError(
            f"No text found in this {len(pages)}-page PDF: it looks scanned (images of pages). "
            "Run it through OCR and upload the result."
        )
    return pages, True


def _page_text(page: Any) -> str:
    try:
        return page.extract_text() or ""
    except Exception:  # one unreadable page should not lose the book
        return ""


def _check_docx_size(path: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ExtractionError("The Word document is damaged and could not be opened.") from exc
    unpacked = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if unpacked > MAX_DOCX_UNPACKED_BYTES or unpacked / packed > MAX_DOCX_RATIO:
        raise ExtractionError(
            f"The Word document unpacks to {unpacked // (1024 * 1024)} MB, far more than a real document: "
            "it was refused as a possible ZIP bomb."
        )


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class _DocxPages:
    """Collects DOCX text page by page, in reading order."""

    def __init__(self) -> None:
        self.pages: dict[int, list[str]] = {1: []}
        self.page = 1
        self.line: list[str] = []
        self.breaks_seen = False

    def add_text(self, text: str) -> None:
        self.line.append(text)

    def end_block(self, heading: bool = False) -> None:
        text = "".join(self.line).strip()
        self.line = []
        if text:
            self.pages[self.page].append(f"\n{text}\n" if heading else text)

    def page_break(self) -> None:
        """Text before the break stays on this page; what follows starts the next one.
        A break on an empty page (e.g. Word's rendered break right after a hard one) is
        not a new page."""
        self.end_block()
        if self.pages[self.page]:
            self.page += 1
            self.pages[self.page] = []
            self.breaks_seen = True


def _is_heading(paragraph: Any) -> bool:
    style = paragraph.find(f"{W}pPr/{W}pStyle")
    name = (style.get(f"{W}val") or "") if style is not None else ""
    return name.lower().startswith(("heading", "title"))


def _read_paragraph(paragraph: Any, pages: _DocxPages) -> None:
    if paragraph.find(f"{W}pPr/{W}pageBreakBefore") is not None:
        pages.page_break()
    for element in paragraph.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}lastRenderedPageBreak"):
        if element.tag == f"{W}t":
            pages.add_text(element.text or "")
        elif element.tag == f"{W}tab":
            pages.add_text("\t")
        elif element.tag == f"{W}lastRenderedPageBreak" or element.get(f"{W}type") == "page":
            pages.page_break()
        else:  # a line break
            pages.add_text("\n")
    pages.end_block(heading=_is_heading(paragraph))


def _read_table(table: Any, pages: _DocxPages) -> None:
    for row in table.iter(f"{W}tr"):
        cells = ["".join(t.text or "" for t in cell.iter(f"{W}t")).strip() for cell in row.iter(f"{W}tc")]
        pages.add_text(" | ".join(cell for cell in cells if cell))
        pages.end_block()


def extract_docx(path: str) -> tuple[list[dict[str, Any]], bool]:
    _check_docx_size(path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(path)
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ExtractionError("The Word document is damaged and could not be read.") from exc
    pages = _DocxPages()
    for block in document.element.body.iterchildren():  # paragraphs and tables, in reading order
        if block.tag == f"{W}p":
            _read_paragraph(block, pages)
        elif block.tag == f"{W}tbl":
            _read_table(block, pages)
    result: list[dict[str, Any]] = [
        {"page": number, "text": "\n".join(parts)} for number, parts in sorted(pages.pages.items())
    ]
    if not any(p["text"].strip() for p in result):
        raise ExtractionError("No text found in the Word document.")
    return result, pages.breaks_seen


def decode_text(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def extract_text(path: str) -> tuple[list[dict[str, Any]], bool]:
    with open(path, "rb") as handle:
        text = decode_text(handle.read())
    if "\f" in text:  # form feeds: the file has pages of its own
        parts = text.split("\f")
        while parts and not parts[-1].strip():  # a final form feed ends the last page
            parts.pop()
        return [{"page": n, "text": part} for n, part in enumerate(parts, start=1)], True
    return [{"page": 1, "text": text}], False


def extract_html(path: str) -> tuple[list[dict[str, Any]], bool]:
    from bs4 import BeautifulSoup

    with open(path, "rb") as handle:
        soup = BeautifulSoup(handle.read(), "lxml")
    for element in soup(["script", "style", "noscript", "template", "iframe", "object", "svg"]):
        element.decompose()
    text = soup.get_text("\n")
    text = re.sub(r"\n\s*\n+", "\n\n", text)
    return [{"page": 1, "text": text}], False


EXTRACTORS = {
    "pdf": extract_pdf,
    "docx": extract_docx,
    "text": extract_text,
    "markdown": extract_text,
    "html": extract_html,
}


def main(argv: list[str]) -> int:
    path, file_type, memory_mb, cpu_seconds = argv[1], argv[2], int(argv[3]), int(argv[4])
    limit_resources(memory_mb, cpu_seconds)
    too_big = f"The file needs more than {memory_mb} MB of memory to read; it was refused."
    try:
        pages, paginated = EXTRACTORS[file_type](path)
        sys.stdout.write(json.dumps({"pages": pages, "paginated": paginated}))
    except ExtractionError as exc:
        _answer(str(exc))
    except (MemoryError, ImportError):  # an import fails when its library cannot be mapped
        _answer(too_big)
    except OSError as exc:
        _answer(too_big if exc.errno == errno.ENOMEM else "The file could not be read.")
    except RecursionError:
        _answer("The file is nested too deeply to read.")
    return 0


def _answer(error: str) -> None:
    sys.stdout.write(json.dumps({"error": error}))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
