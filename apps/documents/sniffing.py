"""What an upload really is, from its bytes: the file name and Content-Type are not trusted.

The name only tells text formats apart (Markdown or plain text) and must not contradict
the bytes: a Word document named .pdf is refused.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from apps.core.errors import TheoError
from apps.documents.models import Document

FileType = Document.FileType

ACCEPTED = "PDF, Word (.docx), plain text, Markdown or HTML"
EXTENSIONS = {
    ".pdf": FileType.PDF,
    ".docx": FileType.DOCX,
    ".html": FileType.HTML,
    ".htm": FileType.HTML,
    ".md": FileType.MARKDOWN,
    ".markdown": FileType.MARKDOWN,
    ".txt": FileType.TEXT,
    ".text": FileType.TEXT,
}
TEXT_TYPES = {FileType.HTML, FileType.MARKDOWN, FileType.TEXT}
_HTML_START = re.compile(rb"<\s*(!doctype\s+html|html|head|body)\b", re.IGNORECASE)
SNIFF_BYTES = 64 * 1024


class UnsupportedFileType(TheoError):
    status_code = 415
    code = "unsupported_file_type"
    message = f"Theo reads {ACCEPTED} files."


class FileTypeMismatch(TheoError):
    status_code = 415
    code = "file_type_mismatch"


class EmptyFile(TheoError):
    status_code = 400
    code = "empty_file"
    message = "The file is empty."


def _family(file_type: str) -> str:
    return "text" if file_type in TEXT_TYPES else file_type


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            try:
                head.decode("cp1252")
            except UnicodeDecodeError:
                return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control <= len(head) // 100


def _sniff_zip(path: Path) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise UnsupportedFileType("The file looks like a ZIP archive but cannot be opened.") from exc
    if "word/document.xml" in names:
        return FileType.DOCX
    raise UnsupportedFileType(f"A ZIP archive that is not a Word document. Theo reads {ACCEPTED} files.")


def sniff(path: Path, filename: str) -> str:
    """The Document.FileType of the file at `path`; raises a 4xx TheoError otherwise."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise EmptyFile()
    if b"%PDF-" in head[:1024]:
        sniffed = FileType.PDF
    elif head.startswith(b"PK\x03\x04"):
        sniffed = _sniff_zip(path)
    elif _looks_like_text(head):
        sniffed = None  # decided with the name below
    else:
        raise UnsupportedFileType()

    extension = Path(filename).suffix.lower()
    declared = EXTENSIONS.get(extension)
    if extension and declared is None:
        raise UnsupportedFileType(f"Files ending in {extension} are not supported. Theo reads {ACCEPTED} files.")
    if sniffed is None:  # text of some kind
        if _HTML_START.search(head[:4096]):
            sniffed = FileType.HTML
        elif declared in (FileType.MARKDOWN, FileType.HTML):
            sniffed = declared
        else:
            sniffed = FileType.TEXT
    if declared is not None and _family(declared) != _family(sniffed):
        raise FileTypeMismatch(
            f"The file is named {extension} but its contents are {FileType(sniffed).label}.",
            details={"declared": declared, "detected": sniffed},
        )
    return sniffed
