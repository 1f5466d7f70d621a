"""Conversations with Claude: personas, conversations, messages with their citations, and
the AI usage (tokens, cost) of every answer."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Persona(models.Model):
    """A voice for answers (careful exegete, pastoral counsellor, church historian…): its
    system prompt and default retrieval scope. Staff edit them in the admin."""

    class Scope(models.TextChoices):
        ALL = "all", "Everything I may read"
        DOCUMENTS = "documents", "My documents"
        BIBLE = "bible", "The Bible only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    system_prompt = models.TextField()
    tradition = models.CharField(max_length=100, blank=True, help_text="e.g. Reformed, Catholic, ecumenical")
    default_scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", "Everything I may read"
        DOCUMENTS = "documents", "My documents"
        DOCUMENT = "document", "One document"
        BIBLE = "bible", "The Bible only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    persona = models.ForeignKey(Persona, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    # With scope "document": the document whose passages answers draw on (checked through
    # the passage index's access rule; chat does not import documents).
    document_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conversation_owner_recent_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(scope="document") | models.Q(document_id__isnull=False),
                name="conversation_document_scope_has_document",
            )
        ]

    def __str__(self) -> str:
        # Not the title: it is the first question, and this string lands in the audit trail
        # and the admin, which staff browse (conversation contents are their owner's alone).
        return f"Conversation {self.pk}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # Citation items exactly as the `citations` event sends them (see chat.realtime).
    citations = models.JSONField(default=list, blank=True)
    # An answer's every numbered source sent to Claude (chat.realtime.SourceItem), cited or not.
    sources = models.JSONField(default=list, blank=True)
    # The standalone query retrieval used for an answer: the question, or its rewrite for a follow-up.
    search_query = models.TextField(blank=True)
    degraded = models.BooleanField(default=False, help_text="Answered by the offline provider, not Claude.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    error_code = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_conversation_time_idx")]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"  # never the content (see Conversation.__str__)


class AIUsage(models.Model):
    """Tokens and cost of one call to Claude for an answer: the answer itself, the rewrite of
    a follow-up into a search query, the rerank of its sources. Budgets and /usage/ add
    these up; "answers" counts the `answer` rows."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "Answer"
        REWRITE = "rewrite", "Follow-up rewrite"
        RERANK = "rerank", "Source rerank"
        DIGEST = "digest", "Whole-document digest"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="ai_usage")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="usages")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANSWER)
    model = models.CharField(max_length=100)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    degraded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "AI usage"
        verbose_name_plural = "AI usage"
        indexes = [models.Index(fields=["user", "created_at"], name="aiusage_user_time_idx")]
        constraints = [
            # One answer row per message: the message's usage is that row plus its helpers'.
            models.UniqueConstraint(
                fields=["message"], condition=models.Q(kind="answer"), name="aiusage_one_answer_per_message"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.input_tokens}+{self.output_tokens} tokens, ${self.cost_usd}"


# --- digests (whole-document questions: apps/chat/digest_*.py) -----------------------------


class Digest(models.Model):
    """A whole-document question ("summarise chapter 3", "compare these two books on
    justification"): a map-reduce over the chosen documents' passages, run by a Celery
    task. `notes` holds the map step's partial notes by group, so a task delivered again
    resumes where it stopped instead of paying for the same calls twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="digests")
    question = models.TextField()
    document_ids = ArrayField(models.UUIDField())
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list, blank=True)  # the map step's notes, one per group done
    degraded = models.BooleanField(default=False)
    degraded_reason = models.CharField(max_length=32, blank=True)
    # What its Claude calls cost so far (each call is also an AIUsage row of the user's).
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(done__lte=models.F("total")), name="digest_done_within_total")
        ]

    def __str__(self) -> str:
        return f"Digest {self.pk}"  # never the question (see Conversation.__str__)
