"""Ingestion throughput: pages/s through the whole pipeline (extraction in its sandboxed
child, chunking, embedding, indexing, references, themes, progress events) against raw
`model.encode` of the very same chunks, measured in the same run.

The ratio pipeline/raw says how much of the embedding model's speed survives the rest
of the pipeline (target >= 0.90).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.documents import pipeline, storage
from apps.documents.chunking import chunk_pages
from apps.documents.extraction import extract_pages
from apps.documents.models import Document
from apps.index import embeddings
from apps.users.models import User

PAGES = 200
ROUNDS = 3
BOOKS = ["Rom 8:28-30", "Matt 5:3-12", "John 3:16", "1 Cor 13:4-7", "Ps 23", "Gen 1:1-3", "Heb 11:1", "Eph 2:8-9"]
WORDS = [
    "grace",
    "faith",
    "covenant",
    "righteousness",
    "atonement",
    "resurrection",
    "kingdom",
    "spirit",
    "church",
    "law",
    "gospel",
    "mercy",
    "justification",
    "sanctification",
    "glory",
    "creation",
    "wisdom",
    "prophecy",
    "sacrifice",
    "redemption",
]


def corpus_page(number: int) -> str:
    """About 450 words per page, varied enough for themes, with a scripture reference."""
    words = [WORDS[(number * 7 + i * 3) % len(WORDS)] for i in range(420)]
    sentences = [" ".join(words[i : i + 14]).capitalize() + "." for i in range(0, len(words), 14)]
    return f"Page {number}. As {BOOKS[number % len(BOOKS)]} teaches, " + " ".join(sentences)


def make_corpus(path: Path, pages: int = PAGES) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 5, corpus_page(number))
    pdf.output(str(path))


def ingest_pdf(source: Path, owner: User, *, title: str) -> tuple[Document, float]:
    """Store the PDF as `owner`'s document and run the whole pipeline on it, here and now;
    returns the document and the seconds the pipeline took."""
    document = Document(
        id=uuid.uuid4(),
        owner=owner,
        title=title,
        file_type=Document.FileType.PDF,
        original_filename=source.name,
        size_bytes=source.stat().st_size,
        sha256=uuid.uuid4().hex * 2,
    )
    storage.store(source, document)
    document.save(force_insert=True)
    started = time.perf_counter()
    pipeline.run(document_id=str(document.pk))
    elapsed = time.perf_counter() - started
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED, document.failure_reason
    return document, elapsed


def delete_document(document: Document, owner: User) -> None:
    from apps.documents.services import document_delete

    with transaction.atomic():
        document_delete(document=Document.objects.get(pk=document.pk), actor=owner)


def time_pipeline(source: Path, owner: User) -> float:
    document, elapsed = ingest_pdf(source, owner, title="Benchmark corpus")
    delete_document(document, owner)
    return elapsed


def time_raw_encode(texts: list[str]) -> float:
    started = time.perf_counter()
    embeddings.embed_texts(texts, batch_size=settings.EMBEDDING_BATCH_SIZE)
    return time.perf_counter() - started


def main() -> None:
    owner, _ = User.objects.get_or_create(
        email="bench@theo.invalid", defaults={"display_name": "Benchmark", "status": User.Status.APPROVED}
    )
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "corpus.pdf"
        make_corpus(source)
        pages = extract_pages(source, Document.FileType.PDF)
        chunks = chunk_pages(pages, size=settings.CHUNK_WORDS, overlap=settings.CHUNK_OVERLAP_WORDS)
        texts = [chunk.text for chunk in chunks]
        print(f"corpus: {len(pages)} pages, {len(chunks)} chunks of {settings.CHUNK_WORDS} words")
        embeddings.embed_texts(texts[:64])  # load and warm the model: neither side pays for it

        pipeline_times, raw_times = [], []
        for _ in range(ROUNDS):  # alternate, so drift on a noisy machine hits both sides
            pipeline_times.append(time_pipeline(source, owner))
            raw_times.append(time_raw_encode(texts))
    owner.delete()

    pipeline_s, raw_s = statistics.median(pipeline_times), statistics.median(raw_times)
    pipeline_rate, raw_rate = len(pages) / pipeline_s, len(pages) / raw_s
    print(f"whole pipeline : {pipeline_rate:7.2f} pages/s  ({pipeline_s:.1f} s, runs: {_fmt(pipeline_times)})")
    print(f"model.encode   : {raw_rate:7.2f} pages/s  ({raw_s:.1f} s, runs: {_fmt(raw_times)})")
    print(f"ratio pipeline/encode: {pipeline_rate / raw_rate:.2f}  (target >= 0.90)")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)
