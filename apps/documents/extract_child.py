"""Text extraction from an untrusted file, run as a child process (see extraction.py).

    python -I -B extract_child.py <file_type> <memory_mb> <cpu_seconds> <max_chars>  < file

The file arrives as stdin (the child is never told where the documents live) and the
environment is empty. Before reading anything the child enters its sandbox: a network
namespace of its own where Linux allows it (no interface but a down loopback, so no
connection goes anywhere), then limits on memory, CPU, open files, processes and file
writes. It stops reading once the text passes max_chars, then prints one JSON object:
{"pages": [{"page": 1, "label": "i", "text": "..."}, ...], "paginated": true, "sandbox": {...}}
or {"error": "reason", "sandbox": {...}}. "label" is a PDF page's printed label (only PDFs
have them). Heading lines are marked (see extract_layout.py). "paginated" is false when
the format has no pages of its own (text, HTML, a DOCX without page breaks); the parent
then numbers pages of about PAGE_CHARS characters.

No Django here (nor anything of Theo's but extract_layout.py, standard library only, loaded
by its path): the child starts fast, imports only the parsing libraries, and touches
nothing but the one file.
"""

from __future__ import annotations

import codecs
import ctypes
import errno
import json
import os
import re
import resource
import signal
import sys
import zipfile
from importlib import util
from types import ModuleType
from typing import IO, Any

MAX_DOCX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_DOCX_RATIO = 200  # unpacked / packed: far beyond any real document
MAX_PAGES = 50_000  # far beyond any real book; a file of empty pages must not become millions of them
MAX_LABEL_CHARS = 32  # a printed page label ("xii", "A-47")


CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
OPEN_FILES = 64  # the file, the pipes, the libraries' own: far more than enough


def _load_layout() -> ModuleType:
    """extract_layout.py, beside this file, by its path (isolated mode puts no directory of
    Theo's on sys.path)."""
    spec = util.spec_from_file_location("extract_layout", os.path.join(os.path.dirname(__file__), "extract_layout.py"))
    if spec is None or spec.loader is None:
        raise ImportError("extract_layout.py is missing")
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


layout = _load_layout()


class ExtractionError(Exception):
    """A readable reason the file cannot be read."""


class TooMuchText(ExtractionError):
    def __init__(self, max_chars: int) -> None:
        super().__init__(
            f"The file holds more than {max_chars:,} characters of text, the most Theo reads from one "
            "document (THEO_MAX_DOCUMENT_CHARS). Split it into smaller files, or ask an admin to raise the limit."
        )


class TooManyPages(ExtractionError):
    def __init__(self, pages: int) -> None:
        super().__init__(
            f"The file has {pages:,} pages, more than the {MAX_PAGES:,} Theo reads from one document. "
            "Split it into smaller files."
        )


class TextBudget:
    """Counts the characters read so far; reading stops as soon as they pass the cap, so
    a huge file is refused while it is read, not after its text is all in memory."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.used > self.max_chars:
            raise TooMuchText(self.max_chars)
        return text


def isolate_network() -> str:
    """A network namespace of its own: a new user namespace makes it possible without
    privileges where the kernel allows unprivileged user namespaces; root may do it
    without one. Returns what happened, for the parent to log."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        return f"shared (no libc: {exc})"
    for flags, how in ((CLONE_NEWUSER | CLONE_NEWNET, "isolated"), (CLONE_NEWNET, "isolated")):
        if libc.unshare(flags) == 0:
            return how
    return f"shared (unshare refused: {os.strerror(ctypes.get_errno())})"


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # No new processes (root is exempt from this one) and no files written: stdout is a pipe.
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def enter_sandbox(memory_mb: int, cpu_seconds: int) -> dict[str, str]:
    network = isolate_network()  # first: a new user namespace needs a single thread
    limit_resources(memory_mb, cpu_seconds)
    return {"network": network}


# --- formats ------------------------------------------------------------------------


def extract_pdf(source: IO[bytes], budget: TextBudget) -> tuple[list[dict[str, Any]], bool]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(source, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is encrypted. Upload a copy without a password.")
        if len(reader.pages) > MAX_PAGES:
            raise TooManyPages(len(reader.pages))
        labels = _page_labels(reader)
        layouts = [layout.page_lines(page, budget.take) for page in reader.pages]
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ExtractionError(f"The PDF is damaged and could not be read ({type(exc).__name__}).") from exc
    except Exception as exc:
        if "encrypt" in str(exc).lower() or "crypt" in type(exc).__name__.lower():
            raise ExtractionError("The PDF is encrypted. Upload a copy without a password.") from exc
        raise
    if not any(text.strip() for lines in layouts for text, _, _ in lines):
        raise ExtractionError(
            f"No text found in this {len(layouts)}-page PDF: it looks scanned (images of pages). "
            "Run it through OCR and upload the result."
        )
    levels = layout.heading_levels(layouts)
    return [
        {"page": number, "label": label, "text": "\n".join(layout.mark_pdf_line(line, levels) for line in lines)}
        for number, (label, lines) in enumerate(zip(labels, layouts, strict=True), start=1)
    ], True


def _page_labels(reader: Any) -> list[str]:
    """The printed page of every page (/PageLabels: roman front matter, offsets, prefixes);
    pypdf gives the page number as text where the PDF has none. A broken label tree loses
    the labels, not the book."""
    count = len(reader.pages)
    try:
        labels = [str(label).strip()[:MAX_LABEL_CHARS] for label in reader.page_labels]
    except Exception:
        labels = []
    if len(labels) != count:
        labels = [""] * count
    return [label or str(number) for number, label in enumerate(labels, start=1)]


def _check_docx_size(source: IO[bytes]) -> None:
    try:
        with zipfile.ZipFile(source) as archive:
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

    def __init__(self, budget: TextBudget) -> None:
        self.budget = budget
        self.pages: dict[int, list[str]] = {1: []}
        self.page = 1
        self.line: list[str] = []
        self.breaks_seen = False

    def add_text(self, text: str) -> None:
        self.line.append(self.budget.take(layout.unmarked(text)))

    def end_block(self, heading_level: int | None = None) -> None:
        text = "".join(self.line).strip()
        self.line = []
        if text:
            self.pages[self.page].append(text if heading_level is None else layout.heading(text, heading_level))

    def page_break(self) -> None:
        """Text before the break stays on this page; what follows starts the next one.
        A break on an empty page (e.g. Word's rendered break right after a hard one) is
        not a new page."""
        self.end_block()
        if self.pages[self.page]:
            if self.page >= MAX_PAGES:
                raise TooManyPages(self.page + 1)
            self.page += 1
            self.pages[self.page] = []
            self.breaks_seen = True


def _heading_level(paragraph: Any) -> int | None:
    """1 for a Title, n for "Heading n" (style ids have no space: "Heading2"), else None."""
    style = paragraph.find(f"{W}pPr/{W}pStyle")
    name = ((style.get(f"{W}val") or "") if style is not None else "").lower().replace(" ", "")
    if name.startswith("title"):
        return 1
    if name.startswith("heading"):
        digits = name.removeprefix("heading")
        return int(digits) if digits.isdigit() else 1
    return None


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
    pages.end_block(heading_level=_heading_level(paragraph))


def _read_table(table: Any, pages: _DocxPages) -> None:
    for row in table.iter(f"{W}tr"):
        cells = ["".join(t.text or "" for t in cell.iter(f"{W}t")).strip() for cell in row.iter(f"{W}tc")]
        pages.add_text(" | ".join(cell for cell in cells if cell))
        pages.end_block()


def extract_docx(source: IO[bytes], budget: TextBudget) -> tuple[list[dict[str, Any]], bool]:
    _check_docx_size(source)
    source.seek(0)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(source)
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ExtractionError("The Word document is damaged and could not be read.") from exc
    pages = _DocxPages(budget)
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


READ_BYTES = 1024 * 1024


def decode_text(source: IO[bytes], budget: TextBudget) -> str:
    """Decoded a megabyte at a time, counted against the budget as it goes: UTF-16 with a
    byte-order mark, else UTF-8, else (the first undecodable byte) Windows-1252 from the start."""
    start = source.read(2)
    encoding = "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return _decode(source, start, encoding, budget)
    except UnicodeDecodeError:
        source.seek(0)
        budget.used = 0
        return _decode(source, b"", "cp1252", budget, errors="replace")


def _decode(source: IO[bytes], start: bytes, encoding: str, budget: TextBudget, errors: str = "strict") -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    parts = [budget.take(decoder.decode(start))]
    while chunk := source.read(READ_BYTES):
        parts.append(budget.take(decoder.decode(chunk)))
    parts.append(budget.take(decoder.decode(b"", final=True)))
    return "".join(parts)


def extract_text(source: IO[bytes], budget: TextBudget, *, markdown: bool = False) -> tuple[list[dict[str, Any]], bool]:
    text = layout.mark_text_headings(layout.unmarked(decode_text(source, budget)), markdown=markdown)
    if "\f" in text:  # form feeds: the file has pages of its own
        parts = text.split("\f")
        while parts and not parts[-1].strip():  # a final form feed ends the last page
            parts.pop()
        if len(parts) > MAX_PAGES:
            raise TooManyPages(len(parts))
        return [{"page": n, "text": part} for n, part in enumerate(parts, start=1)], True
    return [{"page": 1, "text": text}], False


def extract_markdown(source: IO[bytes], budget: TextBudget) -> tuple[list[dict[str, Any]], bool]:
    return extract_text(source, budget, markdown=True)


HTML_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def extract_html(source: IO[bytes], budget: TextBudget) -> tuple[list[dict[str, Any]], bool]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(source.read(), "lxml")
    for element in soup(["script", "style", "noscript", "template", "iframe", "object", "svg"]):
        element.decompose()
    for string in list(soup.strings):
        if layout.HEADING_MARK in string:
            string.replace_with(layout.unmarked(string))
    for element in soup(HTML_HEADINGS):  # one line each, marked with its level
        if element.parent is not None and element.find_parent(HTML_HEADINGS) is None:
            title = " ".join(element.get_text(" ").split())
            element.replace_with(soup.new_string(layout.heading(title, int(element.name[1])) if title else ""))
    text = "\n".join(budget.take(string) for string in soup.strings)  # what get_text("\n") gives
    text = re.sub(r"\n\s*\n+", "\n\n", text)
    return [{"page": 1, "text": text}], False


EXTRACTORS = {
    "pdf": extract_pdf,
    "docx": extract_docx,
    "text": extract_text,
    "markdown": extract_markdown,
    "html": extract_html,
}


def main(argv: list[str]) -> int:
    file_type, memory_mb, cpu_seconds, max_chars = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    sandbox = enter_sandbox(memory_mb, cpu_seconds)
    too_big = f"The file needs more than {memory_mb} MB of memory to read; it was refused."
    source = open(0, "rb", closefd=False)  # noqa: SIM115 - stdin: the one file, opened by the parent
    try:
        pages, paginated = EXTRACTORS[file_type](source, TextBudget(max_chars))
        sys.stdout.write(json.dumps({"pages": pages, "paginated": paginated, "sandbox": sandbox}))
    except ExtractionError as exc:
        _answer(str(exc), sandbox)
    except (MemoryError, ImportError):  # an import fails when its library cannot be mapped
        _answer(too_big, sandbox)
    except OSError as exc:
        _answer(too_big if exc.errno == errno.ENOMEM else "The file could not be read.", sandbox)
    except RecursionError:
        _answer("The file is nested too deeply to read.", sandbox)
    return 0


def _answer(error: str, sandbox: dict[str, str]) -> None:
    sys.stdout.write(json.dumps({"error": error, "sandbox": sandbox}))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
