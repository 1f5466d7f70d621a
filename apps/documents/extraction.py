"""Extraction, parent side: run extract_child in a separate process under memory and time
limits, so a hostile or broken file fails its document, never the worker."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PAGE_CHARS = 3000  # a printed page, for formats without pages of their own


@dataclass(frozen=True)
class Page:
    number: int
    text: str


class ExtractionFailed(Exception):
    """The file cannot be read; the message is shown to the user as the failure reason."""


def extract_pages(path: Path, file_type: str) -> list[Page]:
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
        stderr = completed.stderr.decode(errors="replace").strip().splitlines()
        detail = stderr[-1] if stderr else f"exit code {completed.returncode}"
        raise ExtractionFailed(f"The file could not be read ({detail[:200]}).")
    return result


def paginate(text: str, page_chars: int = PAGE_CHARS) -> list[Page]:
    """Number pages of about `page_chars` characters, breaking between paragraphs."""
    pages: list[Page] = []
    current: list[str] = []
    size = 0
    for paragraph in text.split("\n\n"):
        if current and size + len(paragraph) > page_chars:
            pages.append(Page(len(pages) + 1, "\n\n".join(current)))
            current, size = [], 0
        current.append(paragraph)
        size += len(paragraph) + 2
    if current:
        pages.append(Page(len(pages) + 1, "\n\n".join(current)))
    return pages
