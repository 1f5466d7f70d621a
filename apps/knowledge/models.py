"""The knowledge store: curated entries. Their passages live in the index (apps.index)."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class KnowledgeEntry(models.Model):
    """A curated note (a definition, a summary of a doctrine, a quotation with its source).

    Only approved entries are read by everyone but guests; drafts, submissions and rejected
    entries are seen by their author and staff (knowledge.selectors.entries_visible_to).
    Each entry is chunked into passages after it is saved, so search finds it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=300)
    body = models.TextField()
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    source = models.CharField(
        max_length=500, blank=True, help_text="Where this comes from: a book, a page, a URL, a council."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        "users.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="knowledge_entries"
    )
    reviewed_by = models.ForeignKey("users.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True, help_text="Why it was rejected, for the author.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name_plural = "knowledge entries"
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="entry_status_updated_idx"),
            GinIndex(fields=["tags"], name="entry_tags_gin"),
        ]

    def __str__(self) -> str:
        return self.title
