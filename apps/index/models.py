"""The one passage index: document chunks, knowledge entries and Bible verses side by side.

A passage carries what search needs to apply the access rule on its own table: its
source kind and id, its owner, the ids of the users its document is shared with, and a
visibility. The sources keep those fields current; the index never imports them.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from apps.index.pages import printed_pages

EMBEDDING_DIMENSIONS = 384


class Passage(models.Model):
    class SourceKind(models.TextChoices):
        DOCUMENT = "document", "Document chunk"
        KNOWLEDGE = "knowledge", "Knowledge entry"
        BIBLE = "bible", "Bible verse"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Everyone (Bible text)"
        MEMBERS = "members", "Every non-guest (approved knowledge)"
        PRIVATE = "private", "Owner, sharees and staff"

    PAGE_LABEL_CHARS = 32
    SECTION_CHARS = 300

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_id = models.UUIDField(help_text="Document, knowledge entry, or Bible translation id")
    chunk_index = models.PositiveIntegerField()
    title = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # Locators: a page span for documents, a canonical verse reference for Bible text.
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    # A document passage's printed page (its first page's PDF label: "xii", "47"; else the
    # page number as text) and the heading it sits under; "" for verses and knowledge entries.
    page_label = models.CharField(max_length=PAGE_LABEL_CHARS, blank=True, default="")
    section = models.CharField(max_length=SECTION_CHARS, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True)
    translation = models.CharField(max_length=8, blank=True)
    # The scripture this passage mentions: canonical strings for people, verse ids
    # (BBCCCVVV, one per verse) for overlap queries.
    scripture_references = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    verse_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    # Access: see index.selectors.visible_passages.
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    owner_id = models.UUIDField(null=True, blank=True)
    shared_with = ArrayField(models.UUIDField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "knowledge_passage"  # the table it had before the index became its own app
        ordering = ["source_kind", "source_id", "chunk_index"]
        constraints = [
            models.UniqueConstraint(fields=["source_kind", "source_id", "chunk_index"], name="passage_unique_chunk"),
            models.CheckConstraint(
                condition=models.Q(page_start__isnull=True) | models.Q(page_end__gte=models.F("page_start")),
                name="passage_page_span_ordered",
            ),
        ]
        indexes = [
            HnswIndex(
                name="passage_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="passage_search_vector_gin"),
            GinIndex(fields=["verse_ids"], name="passage_verse_ids_gin"),
            GinIndex(fields=["shared_with"], name="passage_shared_with_gin"),
            models.Index(fields=["owner_id"], name="passage_owner_idx"),
            models.Index(fields=["source_kind", "visibility"], name="passage_kind_visibility_idx"),
        ]

    def __str__(self) -> str:
        locator = self.reference or self.printed_pages or f"#{self.chunk_index}"
        return f"{self.title or self.source_kind} {locator}"

    @property
    def printed_pages(self) -> str:
        """'p. xii', 'pp. 46–47' ("" without pages)."""
        return printed_pages(page_label=self.page_label, page_start=self.page_start, page_end=self.page_end)


from apps.index.models_vectors import PassageVector as PassageVector  # noqa: E402  (the ensemble's side table)
