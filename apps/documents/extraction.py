"""Extraction, parent side: run extract_child in a separate process under memory and time
limits, so a hostile or broken file fails its document, never the worker."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)
PAGE_CHARS = 3000  # a printed page, for formats without pages of their own


@dataclass(frozen=True)
class Page:
    number: int
    text: str


class ExtractionFailed(Exception):
    """The file cannot be read; the message is shown to the user as the failure reason."""


def extract_pages(path: Path, file_type: str) -> list[Page]:
    if not path.exists():
        logger.error("stored_file_missing", path=str(path))
        raise ExtractionFailed("The stored file is missing; ask an admin to check the data directory.")
    memory_mb = settings.EXTRACTION_MEMORY_MB
    timeout = settings.EXTRACTION_TIMEOUT_SECONDS
    command = [sys.executable, "-m", "apps.documents.extract_child", str(path), file_type, str(memory_mb), str(timeout)]
    try:
        completed = subprocess.run(
            command, capture_output=True, timeout=timeout + 10, cwd=settings.BASE_DIR, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ExtractionFailed(f"Reading the file took longer than {timeout} seconds; it was stopped.") from exc
    result = _parse_child_output(completed, memory_mb, timeout)
    pages = [Page(p["page"], p["text"]) for p in result["pages"]]
    return pages if result.get("paginated") else paginate("\n\n".join(p.text for p in pages))


def _parse_child_output(completed: subprocess.CompletedProcess, memory_mb: int, timeout: int) -> dict:
    if completed.returncode < 0:  # killed by a signal: SIGXCPU/SIGKILL at the CPU limit, or the OOM killer
        raise ExtractionFailed(
            f"Reading the file exceeded the limits ({timeout} s of CPU, {memory_mb} MB of memory); it was stopped."
        )
    try:
        result = json.loads(completed.stdout or b"{}")
    except json.JSONDecodeError:
        result = {}
    if "error" in result:
        raise ExtractionFailed(result["error"])
    if "pages" not in result:
        # The details (tracebacks, server paths) go to the log, not to the reader.
        logger.error("extraction_child_failed", returncode=completed.returncode, stderr=completed.stderr[-4000:])
        raise ExtractionFailed("The file could not be read: it may be damaged or in an unusual format.")
    return result


def paginate(text: str, page_chars: int = PAGE_CHARS) -> list[Page]:
    """Number pages of about `page_chars` characters: break between paragraphs, else
    between lines, else between words."""
    pages: list[Page] = []
    current = ""
    for piece in _pieces(text.replace("\r\n", "\n").replace("\r", "\n"), page_chars):
        if current and len(current) + len(piece) > page_chars:
            pages.append(Page(len(pages) + 1, current.strip()))
            current = ""
        current += piece
    if current.strip() or not pages:
        pages.append(Page(len(pages) + 1, current.strip()))
    return pages


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs, with any longer than `limit` cut at a line break or a space."""
    return [piece for paragraph in text.split("\n\n") for piece in _split_long(paragraph + "\n\n", limit)]


def _split_long(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    for separator in ("\n", " "):
        cut = text.rfind(separator, 0, limit)
        if cut > 0:
            return [text[: cut + 1], *_split_long(text[cut + 1 :], limit)]
    return [text[:limit], *_split_long(text[limit:], limit)]
