"""Extraction, parent side: run extract_child in a separate process under memory and time
limits, so a hostile or broken file fails its document, never the worker.

The child gets an empty environment (none of the worker's secrets), the one file as its
stdin (no path to the documents directory), an empty working directory of no interest
("/"), and Python's isolated mode (no PYTHON* variables, no user site, no script directory
on sys.path). What the child can and cannot reach is described in docs/security.md.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog
from django.conf import settings

from apps.documents.extract_layout import split_heading
from apps.documents.running_heads import strip_running_heads

logger = structlog.get_logger(__name__)
PAGE_CHARS = 3000  # a printed page, for formats without pages of their own
CHILD_SCRIPT = Path(__file__).with_name("extract_child.py")
# All the child's environment: a locale for its text I/O, a PATH for anything that looks.
CHILD_ENVIRONMENT = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}
_network_warned = False


@dataclass(frozen=True)
class Page:
    """One page: its number (1-based), its text (running heads and page numbers taken
    off), its printed label ("xii", "47"; the number as text where the file has none) and
    its headings as (line index in text.split("\n"), level 1-6)."""

    number: int
    text: str
    label: str = ""
    headings: tuple[tuple[int, int], ...] = ()

    @property
    def printed(self) -> str:
        return self.label or str(self.number)


def page_of(number: int, marked_text: str, label: str = "") -> Page:
    """A Page from the child's text, whose heading lines carry extract_layout's mark."""
    lines, headings = [], []
    for index, line in enumerate(marked_text.split("\n")):
        level, text = split_heading(line)
        if level is not None:
            headings.append((index, level))
        lines.append(text)
    return Page(number, "\n".join(lines), label=label, headings=tuple(headings))


class ExtractionFailed(Exception):
    """The file cannot be read; the message is shown to the user as the failure reason."""


class TooMuchText(ExtractionFailed):
    def __init__(self, max_chars: int) -> None:
        super().__init__(
            f"The file holds more than {max_chars:,} characters of text, the most Theo reads from one "
            "document (THEO_MAX_DOCUMENT_CHARS). Split it into smaller files, or ask an admin to raise the limit."
        )


def extract_pages(path: Path, file_type: str) -> list[Page]:
    memory_mb = settings.EXTRACTION_MEMORY_MB
    timeout = settings.EXTRACTION_TIMEOUT_SECONDS
    max_chars = settings.MAX_DOCUMENT_CHARS
    with open_stored_file(path) as source:
        try:
            completed = spawn_child(
                [file_type, str(memory_mb), str(timeout), str(max_chars)], stdin=source, timeout=timeout + 10
            )
        except subprocess.TimeoutExpired as exc:
            raise ExtractionFailed(f"Reading the file took longer than {timeout} seconds; it was stopped.") from exc
    if len(completed.stdout) > _most_output_bytes(max_chars):
        raise TooMuchText(max_chars)
    result = _parse_child_output(completed, memory_mb, timeout)
    raw = result["pages"]
    if sum(len(page["text"]) for page in raw) > max_chars:  # the child stops first; never trust only it
        raise TooMuchText(max_chars)
    if not result.get("paginated"):  # pages of our own: no running heads to find
        return [page_of(page.number, page.text) for page in paginate("\n\n".join(p["text"] for p in raw))]
    texts = strip_running_heads(
        [page["text"] for page in raw], [str(page.get("label") or page["page"]) for page in raw]
    )
    return [page_of(page["page"], text, str(page.get("label") or "")) for page, text in zip(raw, texts, strict=True)]


def open_stored_file(path: Path) -> IO[bytes]:
    """The stored file, opened for the child's stdin. Never blocks (O_NONBLOCK: a FIFO
    planted in the data directory must not hang the worker) and only a regular file passes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        logger.error("stored_file_missing", path=str(path), error=str(exc))
        raise ExtractionFailed("The stored file is missing; ask an admin to check the data directory.") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        logger.error("stored_file_not_regular", path=str(path))
        raise ExtractionFailed("The stored file is not a regular file; ask an admin to check the data directory.")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def spawn_child(
    arguments: list[str], *, stdin: IO[bytes], timeout: float, script: Path | None = None
) -> subprocess.CompletedProcess:
    """The one way a child is started (tests start a probe script through it too)."""
    return subprocess.run(
        [sys.executable, "-I", "-B", str(script or CHILD_SCRIPT), *arguments],
        stdin=stdin,
        capture_output=True,
        timeout=timeout,
        cwd="/",
        env=dict(CHILD_ENVIRONMENT),
        close_fds=True,
        check=False,
    )


def _note_sandbox(result: dict) -> None:
    """Say once per process when the platform would not give the child its own network."""
    global _network_warned
    sandbox = result.get("sandbox") if isinstance(result, dict) else None
    network = str(sandbox.get("network", "unknown")) if isinstance(sandbox, dict) else "unknown"
    if network != "isolated" and not _network_warned:
        _network_warned = True
        logger.warning("extraction_network_not_isolated", network=network)


def _most_output_bytes(max_chars: int) -> int:
    """What an honest child can print at most: every character escaped as a surrogate pair
    (12 bytes), plus the JSON around 50,000 pages. Past it the answer is not even parsed."""
    return max_chars * 12 + 50_000 * 64 + 4096


def _parse_child_output(completed: subprocess.CompletedProcess, memory_mb: int, timeout: int) -> dict:
    if completed.returncode < 0:  # killed by a signal: SIGXCPU/SIGKILL at the CPU limit, or the OOM killer
        raise ExtractionFailed(
            f"Reading the file exceeded the limits ({timeout} s of CPU, {memory_mb} MB of memory); it was stopped."
        )
    try:
        result = json.loads(completed.stdout or b"{}")
    except json.JSONDecodeError:
        result = {}
    _note_sandbox(result)
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
