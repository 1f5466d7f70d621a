"""Text extraction (in a limited child process), chunking and themes, on real files."""

from __future__ import annotations

import io
import itertools
import os
import re
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.documents import extraction
from apps.documents.chunking import Chunk, chunk_pages
from apps.documents.extraction import PAGE_CHARS, ExtractionFailed, Page, extract_pages
from apps.documents.themes import identify_themes
from tests.documents import files


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def page_with(pages: list[Page], needle: str) -> list[int]:
    """The numbers of the pages whose text contains `needle` (as a whole word)."""
    pattern = re.compile(rf"{re.escape(needle)}\b")
    return [page.number for page in pages if pattern.search(page.text)]


def fail_reason(path: Path, file_type: str) -> str:
    with pytest.raises(ExtractionFailed) as caught:
        extract_pages(path, file_type)
    return str(caught.value)


def assert_readable(reason: str) -> None:
    """A sentence a reader can act on: no traceback, no server paths, no raw exception dump."""
    assert reason and len(reason) < 300, reason
    assert reason[0].isupper() and reason.rstrip().endswith("."), reason
    assert "Traceback" not in reason, reason
    assert str(django_settings.BASE_DIR) not in reason, reason
    for leak in ("site-packages", ".so", "/usr/", "/root/", "/home/", ".py"):
        assert leak not in reason, reason


# --- formats that have pages of their own ---------------------------------------------


def test_pdf_keeps_one_page_per_pdf_page(tmp_path):
    pages = extract_pages(write(tmp_path, "book.pdf", files.pdf_bytes(5)), "pdf")

    assert [page.number for page in pages] == [1, 2, 3, 4, 5]
    for number in range(1, 6):
        assert page_with(pages, f"marker-{number}") == [number]


def test_pdf_with_many_pages_keeps_page_numbers(tmp_path):
    pages = extract_pages(write(tmp_path, "long.pdf", files.pdf_bytes(40)), "pdf")

    assert len(pages) == 40
    assert page_with(pages, "marker-37") == [37]


def test_text_with_form_feeds_keeps_its_pages(tmp_path):
    pages = extract_pages(write(tmp_path, "export.txt", files.text_bytes(4)), "text")

    assert [page.number for page in pages] == [1, 2, 3, 4]
    for number in range(1, 5):
        assert page_with(pages, f"marker-{number}") == [number]


def test_a_trailing_form_feed_does_not_add_an_empty_page(tmp_path):
    """Printed exports end every page, the last one included, with a form feed."""
    data = "".join(files.page_text(n) + "\f" for n in range(1, 4)).encode()

    pages = extract_pages(write(tmp_path, "export.txt", data), "text")

    assert [page.number for page in pages] == [1, 2, 3], [page.text[:30] for page in pages]


def test_docx_page_breaks_in_their_own_paragraph_give_pages(tmp_path):
    import docx

    document = docx.Document()
    for number in range(1, 4):
        document.add_heading(f"Chapter {number}", level=1)
        document.add_paragraph(files.page_text(number))
        if number < 3:
            document.add_page_break()
    out = io.BytesIO()
    document.save(out)

    pages = extract_pages(write(tmp_path, "book.docx", out.getvalue()), "docx")

    assert [page.number for page in pages] == [1, 2, 3]
    for number in range(1, 4):
        assert page_with(pages, f"marker-{number}") == [number]
        assert page_with(pages, f"Chapter {number}") == [number]


def test_docx_page_break_at_the_end_of_a_paragraph_starts_the_next_page(tmp_path):
    """Word's Ctrl+Enter after typing a paragraph puts the break inside that paragraph,
    after its text: the text stays on the page it was typed on (files.docx_bytes)."""
    pages = extract_pages(write(tmp_path, "book.docx", files.docx_bytes(3)), "docx")

    assert [page.number for page in pages] == [1, 2, 3]
    for number in range(1, 4):
        assert page_with(pages, f"Chapter {number}") == [number], [p.text[:80] for p in pages]
        assert page_with(pages, f"marker-{number}") == [number], [p.text[:80] for p in pages]


def test_docx_table_stays_on_the_page_it_is_on(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("The canon lists: marker-1.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Book", "Chapters"
    table.cell(1, 0).text, table.cell(1, 1).text = "Romans", "16"
    document.add_page_break()
    document.add_paragraph("Second page: marker-2.")
    out = io.BytesIO()
    document.save(out)

    pages = extract_pages(write(tmp_path, "canon.docx", out.getvalue()), "docx")

    assert [page.number for page in pages] == [1, 2]
    assert page_with(pages, "marker-2") == [2]
    assert page_with(pages, "Chapters") == [1], [page.text for page in pages]


def test_docx_without_page_breaks_is_paginated_by_length(tmp_path):
    import docx

    document = docx.Document()
    for number in range(1, 13):
        document.add_paragraph(files.page_text(number))
    out = io.BytesIO()
    document.save(out)

    pages = extract_pages(write(tmp_path, "essay.docx", out.getvalue()), "docx")

    assert len(pages) >= 3
    assert all(len(page.text) <= PAGE_CHARS for page in pages)
    text = "\n".join(page.text for page in pages)
    assert all(f"marker-{n}." in text for n in range(1, 13))


# --- formats without pages: paginated by about PAGE_CHARS characters ------------------


def test_html_drops_scripts_and_styles_and_keeps_the_text(tmp_path):
    pages = extract_pages(write(tmp_path, "sermon.html", files.html_bytes(3)), "html")

    text = "\n".join(page.text for page in pages)
    assert "xss-marker" not in text
    assert "alert(" not in text
    assert "color:red" not in text
    assert "Section 1" in text and "Section 3" in text
    assert all(f"marker-{n}." in text for n in (1, 2, 3))


def test_long_html_is_paginated_in_reading_order(tmp_path):
    pages = extract_pages(write(tmp_path, "sermon.html", files.html_bytes(15)), "html")

    assert len(pages) >= 3
    assert [page.number for page in pages] == list(range(1, len(pages) + 1))
    found = [page_with(pages, f"marker-{n}")[0] for n in range(1, 16)]
    assert found == sorted(found)  # text stays in reading order across pages


def test_markdown_without_pages_is_paginated_by_about_3000_characters(tmp_path):
    pages = extract_pages(write(tmp_path, "notes.md", files.markdown_bytes(12)), "markdown")

    total = sum(len(page.text) for page in pages)
    assert total > 3 * PAGE_CHARS // 2
    assert len(pages) == pytest.approx(total / PAGE_CHARS, abs=1.5)
    assert all(len(page.text) <= PAGE_CHARS for page in pages)
    assert [page.number for page in pages] == list(range(1, len(pages) + 1))
    for number in range(1, 13):
        assert len(page_with(pages, f"marker-{number}")) == 1  # each paragraph on exactly one page
    assert pages[0].text.startswith("Part 1\n")  # the heading, its '#' markup read as a level-1 heading
    assert pages[0].headings[0] == (0, 1)


def test_plain_text_with_one_paragraph_per_line_is_paginated(tmp_path):
    """Many text exports put each paragraph on one line, without blank lines between."""
    text = "\n".join(files.page_text(n) for n in range(1, 13)).encode()

    pages = extract_pages(write(tmp_path, "lines.txt", text), "text")

    assert len(pages) >= 3
    assert all(len(page.text) <= PAGE_CHARS for page in pages)
    assert all(len(page_with(pages, f"marker-{n}")) == 1 for n in range(1, 13))


def test_markdown_with_windows_line_endings_is_paginated(tmp_path):
    data = files.markdown_bytes(12).replace(b"\n", b"\r\n")

    pages = extract_pages(write(tmp_path, "notes.md", data), "markdown")

    assert len(pages) >= 3
    assert all(len(page.text) <= PAGE_CHARS for page in pages)


def test_short_plain_text_is_one_page(tmp_path):
    pages = extract_pages(write(tmp_path, "short.txt", b"Grace alone, faith alone."), "text")

    assert pages == [Page(1, "Grace alone, faith alone.")]


def test_plain_text_in_legacy_encoding_is_read(tmp_path):
    text = "Café theology: “grace” — Calvin’s Institutes.".encode("cp1252")

    pages = extract_pages(write(tmp_path, "legacy.txt", text), "text")

    assert "Calvin’s Institutes" in pages[0].text
    assert "“grace”" in pages[0].text


# --- hostile and broken files: a readable reason, never a crash -----------------------


def test_encrypted_pdf_fails_with_a_readable_reason(tmp_path):
    reason = fail_reason(write(tmp_path, "locked.pdf", files.encrypted_pdf_bytes()), "pdf")

    assert "encrypted" in reason.lower()
    assert_readable(reason)


def test_corrupt_pdf_fails_as_damaged(tmp_path):
    reason = fail_reason(write(tmp_path, "broken.pdf", files.corrupt_pdf_bytes()), "pdf")

    assert "damaged" in reason.lower()
    assert_readable(reason)


def test_scanned_pdf_says_it_needs_ocr(tmp_path):
    reason = fail_reason(write(tmp_path, "scan.pdf", files.scanned_pdf_bytes(3)), "pdf")

    assert "scanned" in reason.lower()
    assert "OCR" in reason
    assert "3-page" in reason
    assert_readable(reason)


def test_zip_bomb_docx_is_refused(tmp_path):
    started = time.monotonic()
    reason = fail_reason(write(tmp_path, "bomb.docx", files.zip_bomb_docx_bytes(300)), "docx")

    assert "ZIP bomb" in reason
    assert_readable(reason)
    assert time.monotonic() - started < 10  # refused from the ZIP directory, not by unpacking it


def test_docx_that_is_not_a_zip_is_damaged(tmp_path):
    reason = fail_reason(write(tmp_path, "broken.docx", b"PK\x03\x04" + b"\x00" * 200), "docx")

    assert "damaged" in reason.lower()
    assert_readable(reason)


def test_child_over_its_memory_limit_on_a_large_file_fails_readably(tmp_path, settings):
    settings.EXTRACTION_MEMORY_MB = 100
    settings.MAX_DOCUMENT_CHARS = 10**9  # the memory limit, not the text cap, must stop this one
    paragraph = b"word " * 200 + b"\n\n"
    path = write(tmp_path, "huge.txt", paragraph * (80 * 1024))  # 80 MB of text, 100 MB allowed

    reason = fail_reason(path, "text")

    assert "memory" in reason.lower()
    assert_readable(reason)


def test_child_too_small_to_load_the_pdf_reader_fails_readably(tmp_path, settings):
    """With 40 MB of address space the child cannot even import pypdf: the reader still
    gets a sentence about memory, not an ImportError naming the server's file paths."""
    settings.EXTRACTION_MEMORY_MB = 40
    path = write(tmp_path, "book.pdf", files.pdf_bytes(2))

    reason = fail_reason(path, "pdf")

    assert "memory" in reason.lower(), reason
    assert_readable(reason)


def test_child_over_its_cpu_time_is_stopped(tmp_path, settings):
    settings.EXTRACTION_TIMEOUT_SECONDS = 1
    body = b"<div><p>word <b>bold</b> <i>it</i></p></div>" * 400_000  # ~17 MB: seconds of parsing
    path = write(tmp_path, "heavy.html", b"<html><body>" + body + b"</body></html>")

    started = time.monotonic()
    reason = fail_reason(path, "html")

    assert time.monotonic() - started < 8
    assert "1 s" in reason and "stopped" in reason
    assert_readable(reason)


def test_child_stuck_without_using_cpu_is_stopped_by_the_wall_clock(tmp_path, settings, monkeypatch):
    """A child that blocks uses no CPU, so the CPU limit never fires; the parent's
    wall-clock timeout must still stop it. (The real child cannot be made to block any more:
    its one input is a regular file. A stand-in that sleeps plays it here.)"""
    settings.EXTRACTION_TIMEOUT_SECONDS = 1
    sleeper = write(tmp_path, "sleeper.py", b"import time\ntime.sleep(600)\n")
    monkeypatch.setattr(extraction, "CHILD_SCRIPT", sleeper)

    started = time.monotonic()
    reason = fail_reason(write(tmp_path, "book.txt", b"words"), "text")

    assert time.monotonic() - started < 30
    assert "longer than 1 seconds" in reason and "stopped" in reason
    assert_readable(reason)


def test_a_fifo_in_place_of_the_file_is_refused_without_hanging(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: the parent must not wait."""
    path = tmp_path / "stuck.txt"
    os.mkfifo(path)

    started = time.monotonic()
    reason = fail_reason(path, "text")

    assert time.monotonic() - started < 5
    assert "not a regular file" in reason
    assert_readable(reason)


def test_missing_file_fails_readably_without_naming_server_paths(tmp_path):
    reason = fail_reason(tmp_path / "gone.pdf", "pdf")

    assert "missing" in reason.lower() or "not found" in reason.lower(), reason
    assert str(tmp_path) not in reason
    assert_readable(reason)


# --- chunking ---------------------------------------------------------------------------


def numbered_pages(words_per_page: list[int]) -> list[Page]:
    """Page n holds words "p<n>w<i>" so every word says where it came from."""
    return [
        Page(number, " ".join(f"p{number}w{i}" for i in range(count)))
        for number, count in enumerate(words_per_page, start=1)
    ]


def page_of(word: str) -> int:
    return int(word[1 : word.index("w")])


def test_chunks_respect_size_and_overlap():
    pages = numbered_pages([100, 100, 100])

    chunks = chunk_pages(pages, size=50, overlap=10)

    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert all(len(chunk.text.split()) <= 50 for chunk in chunks)
    assert all(len(chunk.text.split()) == 50 for chunk in chunks[:-1])
    for previous, current in itertools.pairwise(chunks):
        assert previous.text.split()[-10:] == current.text.split()[:10]
    all_words = [word for page in pages for word in page.text.split()]
    covered = {word for chunk in chunks for word in chunk.text.split()}
    assert covered == set(all_words)  # nothing lost
    assert chunks[-1].text.split()[-1] == all_words[-1]


def test_chunk_page_spans_follow_the_words_across_page_boundaries():
    pages = numbered_pages([30, 3, 40, 25])

    chunks = chunk_pages(pages, size=20, overlap=5)

    for chunk in chunks:
        words = chunk.text.split()
        assert chunk.page_start == page_of(words[0])
        assert chunk.page_end == page_of(words[-1])
        assert chunk.page_start <= chunk.page_end
    spanning = [chunk for chunk in chunks if chunk.page_start != chunk.page_end]
    assert spanning, "some chunk must cross a page boundary"
    assert any(chunk.page_end - chunk.page_start == 2 for chunk in chunks)  # over the 3-word page 2


def test_empty_pages_are_skipped_in_spans():
    pages = [Page(1, "alpha beta"), Page(2, "   "), Page(3, "gamma delta")]

    chunks = chunk_pages(pages, size=10, overlap=2)

    assert chunks == [Chunk(index=0, text="alpha beta gamma delta", page_start=1, page_end=3, page_label="1")]


def test_chunking_is_deterministic():
    pages = numbered_pages([73, 12, 160])

    assert chunk_pages(pages, size=40, overlap=8) == chunk_pages(pages, size=40, overlap=8)


def test_no_text_gives_no_chunks():
    assert chunk_pages([Page(1, ""), Page(2, "  \n ")], size=40, overlap=8) == []


def test_no_chunk_holds_only_words_already_in_the_previous_one():
    chunks = chunk_pages(numbered_pages([55]), size=50, overlap=10)

    assert len(chunks) == 2
    assert chunks[1].text.split()[-1] == "p1w54"
    assert len(chunks[1].text.split()) == 15


@pytest.mark.parametrize(("size", "overlap"), [(40, 40), (40, 50)])
def test_overlap_not_smaller_than_size_is_refused(size, overlap):
    with pytest.raises(ValueError, match="overlap"):
        chunk_pages(numbered_pages([100]), size=size, overlap=overlap)


# --- themes -----------------------------------------------------------------------------


def test_themes_are_the_distinctive_terms():
    texts = [
        "Justification by faith is the article on which the church stands or falls. "
        "Justification is forensic: the sinner is declared righteous.",
        "The atonement of Christ satisfies divine justice; penal substitution explains the atonement.",
        "Justification and atonement belong together, says the Lord God unto thee, and the covenant of grace.",
        "Covenant theology reads the covenant of works and the covenant of grace as one story.",
    ]

    themes = identify_themes(texts)

    assert 0 < len(themes) <= 10
    assert {"justification", "atonement", "covenant"} <= {word for theme in themes for word in theme.split()}
    for stop_word in ("the", "and", "god", "lord", "unto", "thee"):
        assert stop_word not in themes


def test_themes_do_not_repeat_a_term_inside_a_phrase():
    texts = ["free grace and grace alone; free grace is grace", "sovereign grace, irresistible grace"] * 3

    themes = identify_themes(texts)

    assert len([theme for theme in themes if "grace" in theme.split()]) == 1


def test_themes_of_empty_or_stop_word_text_are_empty():
    assert identify_themes([]) == []
    assert identify_themes(["", "   "]) == []
    assert identify_themes(["the and of unto thee"]) == []


def test_theme_count_is_respected():
    words = "baptism eucharist liturgy prayer fasting mission eschatology pneumatology ecclesiology sacrament"
    texts = [f"{word} {word} {word} doctrine" for word in words.split()]

    assert len(identify_themes(texts, count=4)) == 4


def test_themes_are_not_the_books_a_text_cites():
    texts = [
        f"Grace precedes faith (Rom {n}:1; Eph 2:8-9; cf. Mt 5:3, Romans {n}). Justification by grace."
        for n in range(1, 9)
    ]

    themes = identify_themes(texts)

    assert "grace" in themes
    assert not {"rom", "romans", "eph", "mt"} & set(themes), themes
