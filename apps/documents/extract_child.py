"""Text extraction from an untrusted file, run as a child process (see extraction.py).

    python -m apps.documents.extract_child <path> <file_type> <memory_mb> <cpu_seconds>

Caps its own address space and CPU time first, then prints one JSON object:
{"pages": [{"page": 1, "text": "..."}, ...], "paginated": true} or {"error": "reason"}.
"paginated" is false when the format has no pages of its own (text, HTML, a DOCX
without page breaks); the parent then numbers pages of about PAGE_CHARS characters.

No Django here: the child starts fast and touches nothing but the one file.
"""

from __future__ import annotations

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
        pages = [{"page": number, "text": _page_text(page)} for number, page in enumerate(reader.pages, start=1)]
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


_PAGE_BREAK = re.compile(r"<w:br [^>]*w:type=\"page\"|<w:lastRenderedPageBreak")


def extract_docx(path: str) -> tuple[list[dict[str, Any]], bool]:
    _check_docx_size(path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(path)
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ExtractionError("The Word document is damaged and could not be read.") from exc
    page = 1
    breaks_seen = False
    pages: dict[int, list[str]] = {1: []}
    for paragraph in document.paragraphs:
        xml = paragraph._p.xml
        breaks = len(_PAGE_BREAK.findall(xml))
        text = paragraph.text.strip()
        if breaks and pages[page]:
            page += breaks
            breaks_seen = True
            pages.setdefault(page, [])
        if text:
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            pages[page].append(f"\n{text}\n" if style.lower().startswith(("heading", "title")) else text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                pages[page].append(" | ".join(cells))
    result = [{"page": number, "text": "\n".join(parts)} for number, parts in sorted(pages.items())]
    if not any(p["text"].strip() for p in result):
        raise ExtractionError("No text found in the Word document.")
    return result, breaks_seen


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
        return [{"page": n, "text": part} for n, part in enumerate(text.split("\f"), start=1)], True
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
    try:
        pages, paginated = EXTRACTORS[file_type](path)
        result: dict[str, Any] = {"pages": pages, "paginated": paginated}
    except ExtractionError as exc:
        result = {"error": str(exc)}
    except MemoryError:
        result = {"error": f"The file needs more than {memory_mb} MB of memory to read; it was refused."}
    except RecursionError:
        result = {"error": "The file is nested too deeply to read."}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
