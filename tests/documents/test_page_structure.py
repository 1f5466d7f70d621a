"""Printed pages, sections and clean text, read from real files by the real extraction child:
PDF page labels (roman front matter, offsets, none at all), headings from a PDF's layout and
from Markdown, HTML and Word markup, chunks that never cross a heading, and running heads,
footers and page numbers that never reach a passage."""

from __future__ import annotations

import io
from pathlib import Path

from apps.documents.chunking import chunk_pages, passage_count
from apps.documents.extraction import Page, extract_pages
from apps.documents.running_heads import strip_running_heads
from tests.documents import files

BODY = "The kindness of Boaz to the stranger shows the care of providence for the poor and the widow. " * 3
HEAD = "AN EXPOSITION OF THE BOOK OF RUTH"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


WORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def body(number: int) -> str:
    """Distinct text for each page, down to its last line (real pages do not end alike)."""
    paragraph = files.SAMPLE_PARAGRAPHS[number % 4]
    return f"Page {number} marker-{number}. {paragraph} {BODY} So ends the {WORDS[number - 1]}."


def pdf_pages(tmp_path: Path, data: bytes) -> list[Page]:
    return extract_pages(write(tmp_path, "book.pdf", data), "pdf")


def test_pdf_page_labels_roman_front_matter_then_an_offset_arabic_body(tmp_path):
    data = files.book_pdf_bytes([[("p", body(n))] for n in range(1, 7)], front_matter=2, first_number=5)

    pages = pdf_pages(tmp_path, data)

    assert [page.label for page in pages] == ["i", "ii", "5", "6", "7", "8"]
    assert [page.number for page in pages] == [1, 2, 3, 4, 5, 6]
    chunks = chunk_pages(pages, size=400, overlap=20)
    assert (chunks[0].page_start, chunks[0].page_label) == (1, "i")
    small = chunk_pages(pages, size=12, overlap=2)
    assert {chunk.page_label for chunk in small} == {"i", "ii", "5", "6", "7", "8"}
    assert all(chunk.page_label == pages[chunk.page_start - 1].label for chunk in small)


def test_a_pdf_without_page_labels_has_its_page_numbers_as_labels(tmp_path):
    pages = pdf_pages(tmp_path, files.pdf_bytes(3))

    assert [page.label for page in pages] == ["1", "2", "3"]


def test_non_pdf_pages_are_labelled_with_their_number(tmp_path):
    pages = extract_pages(write(tmp_path, "book.txt", files.text_bytes(3)), "text")

    assert [page.printed for page in pages] == ["1", "2", "3"]
    chunks = chunk_pages(pages, size=10, overlap=2)
    assert {chunk.page_label for chunk in chunks} == {"1", "2", "3"}
    assert all(chunk.page_label == str(chunk.page_start) for chunk in chunks)


def chapter_book() -> bytes:
    """Chapters (16 pt) with verse sections (12.5 pt), and a 'CHAPTER III.' line in the body font."""
    return files.book_pdf_bytes(
        [
            [("h1", "Chapter 1. Elimelech's Removal"), ("h2", "Verses 1-2: The famine"), ("p", body(1))],
            [("p", "The famine continues in Moab. " + BODY), ("h2", "Verses 3-5: The deaths"), ("p", body(2))],
            [("h1", "Chapter 2. Ruth Gleaning"), ("p", body(3))],
            [("p", "CHAPTER III."), ("p", "Naomi seeks rest for Ruth. " + BODY)],
        ],
        running_head=HEAD,
    )


def test_pdf_headings_found_from_font_sizes_and_chapter_lines(tmp_path):
    pages = pdf_pages(tmp_path, chapter_book())

    def headings(page: Page) -> list[tuple[int, str]]:
        lines = page.text.split("\n")
        return [(level, lines[index]) for index, level in page.headings]

    assert headings(pages[0]) == [(1, "Chapter 1. Elimelech's Removal"), (2, "Verses 1-2: The famine")]
    assert headings(pages[1]) == [(2, "Verses 3-5: The deaths")]
    assert headings(pages[2]) == [(1, "Chapter 2. Ruth Gleaning")]
    assert headings(pages[3]) == [(6, "CHAPTER III.")]  # found by its words: the deepest level
    assert not any("kindness" in text for page in pages for _, text in headings(page))  # body lines are not headings


def test_headings_become_sections_and_chunk_boundaries(tmp_path):
    pages = pdf_pages(tmp_path, chapter_book())

    chunks = chunk_pages(pages, size=400, overlap=20)

    assert [(chunk.section, chunk.page_start, chunk.page_end) for chunk in chunks] == [
        ("Chapter 1. Elimelech's Removal › Verses 1-2: The famine", 1, 2),  # runs on to page 2, up to the next heading
        ("Chapter 1. Elimelech's Removal › Verses 3-5: The deaths", 2, 2),
        ("Chapter 2. Ruth Gleaning", 3, 3),
        ("Chapter 2. Ruth Gleaning › CHAPTER III.", 4, 4),
    ]
    assert chunks[0].text.startswith("Chapter 1. Elimelech's Removal Verses 1-2: The famine Page 1 marker-1.")
    assert "The famine continues in Moab." in chunks[0].text and "Verses 3-5" not in chunks[0].text
    assert chunks[1].text.startswith("Verses 3-5: The deaths Page 2 marker-2.")
    assert passage_count(pages, size=400, overlap=20) == len(chunks)
    small = chunk_pages(pages, size=15, overlap=3)
    assert passage_count(pages, size=15, overlap=3) == len(small)
    for chunk in small:  # no window holds the words of two sections
        assert sum(marker in chunk.text for marker in ("marker-1.", "marker-2.", "marker-3.", "Naomi seeks")) <= 1


def test_markdown_html_and_word_headings_become_sections(tmp_path):
    markdown = b"# Of Grace\n\nGrace goes before.\n\n```\n# not a heading\n```\n\n## Of Faith\n\nFaith follows.\n"
    html = b"<html><body><h1>Of Grace</h1><p>Grace goes before.</p><h2>Of <em>Faith</em></h2><p>Faith follows.</p>"
    import docx

    document = docx.Document()
    document.add_heading("Of Grace", level=1)
    document.add_paragraph("Grace goes before.")
    document.add_heading("Of Faith", level=2)
    document.add_paragraph("Faith follows.")
    word = io.BytesIO()
    document.save(word)

    for name, data, file_type in (
        ("a.md", markdown, "markdown"),
        ("a.html", html, "html"),
        ("a.docx", word.getvalue(), "docx"),
    ):
        chunks = chunk_pages(extract_pages(write(tmp_path, name, data), file_type), size=50, overlap=5)
        assert [chunk.section for chunk in chunks] == ["Of Grace", "Of Grace › Of Faith"], file_type
        assert chunks[1].text == "Of Faith Faith follows.", file_type
        assert chunks[0].page_label == "1"
        if file_type == "markdown":
            assert "``` # not a heading ```" in chunks[0].text  # a '#' line in a code block is code


def test_running_heads_footers_and_page_numbers_never_reach_passages(tmp_path):
    repeated = "Blessed be the Lord, which hath not left thee this day without a kinsman."
    pages_in = [[("p", f"{body(n)}\n{repeated}" if n in (2, 5) else body(n))] for n in range(1, 9)]
    data = files.book_pdf_bytes(pages_in, running_head=HEAD, front_matter=3)

    pages = pdf_pages(tmp_path, data)
    text = " ".join(chunk.text for chunk in chunk_pages(pages, size=60, overlap=10))

    assert HEAD not in text and "EXPOSITION" not in text
    for page in pages:  # no lone page number (roman or arabic) is left at either end
        lines = [line.strip() for line in page.text.split("\n") if line.strip()]
        assert lines[0].startswith(f"Page {page.number} marker-{page.number}.")
        assert lines[-1] not in {"i", "ii", "iii", *map(str, range(1, 9))}
    assert text.count(repeated) == 2  # a line that merely occurs twice in the body is kept
    assert all(f"marker-{n}." in text for n in range(1, 9))


def test_running_heads_with_page_numbers_and_chapter_heads_are_stripped_body_kept():
    pages = [
        f"{n} THE BOOK OF RUTH\nChapter head {'one' if n < 5 else 'two'}\nBody line {n} of the page.\n"
        f"{'Verses 1-5' if n == 3 else 'Another body line.'}\n{'-' if n % 2 else ''} {n} -"
        for n in range(1, 11)
    ]
    pages[4] = pages[4].replace("Chapter head two", "A body line at the top of one page")

    cleaned = [page.split("\n") for page in strip_running_heads(pages)]

    for number, lines in enumerate(cleaned, start=1):
        assert not any("THE BOOK OF RUTH" in line for line in lines)
        assert f"Body line {number} of the page." in lines
        assert not any(line.strip(" -") == str(number) for line in lines)
    assert all("Chapter head" not in line for lines in cleaned for line in lines)  # 4 and 5 times: running
    assert "A body line at the top of one page" in cleaned[4]  # once: kept
    assert "Verses 1-5" in cleaned[2]


def test_numbered_headings_opening_every_page_are_kept():
    pages = [f"\ue0001Chapter {n}\nThe {WORDS[n]} chapter's text.\n{n}" for n in range(1, 8)]

    cleaned = strip_running_heads(pages)

    assert [page.split("\n") for page in cleaned] == [
        [f"\ue0001Chapter {n}", f"The {WORDS[n]} chapter's text."] for n in range(1, 8)
    ]


def test_a_running_head_ending_in_the_printed_page_is_stripped_even_on_a_short_chapter():
    """Texinfo's "Chapter 3: Utilities 6" stands on two pages only: its page number gives it away."""
    pages = [
        "\ue0006Chapter 3: Utilities 6\nReport bugs to the list.\nasn1Parser reads a file.",
        "7 GNU Libtasn1 Reference\nThe coding tool writes DER.\nIt reads assignments.",
        "\ue0006Chapter 3: Utilities 8\nDecoding works the other way.\nSee the examples.",
    ]

    cleaned = strip_running_heads(pages, ["6", "7", "8"])

    assert [page.split("\n")[0] for page in cleaned] == [
        "Report bugs to the list.",
        "The coding tool writes DER.",
        "Decoding works the other way.",
    ]
    assert strip_running_heads(["Verses 6\nBody.", "Other 9 words\nBody two."], ["6", "7"])[1].startswith("Other")
