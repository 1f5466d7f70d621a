from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Document(models.Model):
    """An uploaded book, commentary, sermon or paper, and where Theo is in reading it."""

    # Not a column: the reader's selectors.Access level, set on documents the selectors hand out.
    access: int

    class DocumentType(models.TextChoices):
        BIBLICAL = "biblical", "Biblical (commentary, study of a text)"
        THEOLOGICAL = "theological", "Theological (doctrine, history, sermon)"

    class FileType(models.TextChoices):
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word (DOCX)"
        HTML = "html", "HTML"
        MARKDOWN = "markdown", "Markdown"
        TEXT = "text", "Plain text"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        EXTRACT = "extract", "Extracting text"
        CHUNK = "chunk", "Splitting into passages"
        EMBED = "embed", "Embedding passages"
        INDEX = "index", "Indexing passages"
        REFERENCES = "references", "Finding scripture references"
        THEMES = "themes", "Identifying themes"
        DONE = "done", "Done"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=300)
    document_type = models.CharField(max_length=16, choices=DocumentType.choices, default=DocumentType.THEOLOGICAL)
    file_type = models.CharField(max_length=16, choices=FileType.choices)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=300, blank=True)
    # One entry per finished stage ({"stage", "message", "at"}): replayed to progress streams.
    stage_log = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    passage_count = models.PositiveIntegerField(default=0)
    themes = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Deduplication is per owner: another owner's identical file is never linked.
            models.UniqueConstraint(fields=["owner", "sha256"], name="document_unique_file_per_owner"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="document_progress_percent"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="document_status_updated_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED)


class DocumentAccess(models.Model):
    """A share: the owner lets another approved user view or edit a document."""

    class Permission(models.TextChoices):
        VIEW = "view", "View"
        EDIT = "edit", "Edit"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="document_shares")
    permission = models.CharField(max_length=8, choices=Permission.choices, default=Permission.VIEW)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["document", "user"], name="document_share_unique_user")]

    def __str__(self) -> str:
        return f"{self.document} → {self.user} ({self.permission})"


class DocumentNote(models.Model):
    """A reader's note on a document, anchored to a passage or a page, optionally to a verse."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    passage = models.ForeignKey("index.Passage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    page = models.PositiveIntegerField(null=True, blank=True)
    verse_reference = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.body[:60]
