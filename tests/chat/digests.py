"""Digest test data: two small books with chapter headings and page spans, their passages
in the index (no embeddings: a digest reads passages in order, it does not search), and
the requests tests make."""

from __future__ import annotations

from typing import Any

from apps.chat.models import Conversation
from apps.chat.services import conversation_create
from apps.documents.models import Document
from tests.documents.factories import CompletedDocumentFactory, DocumentPassageFactory

GRACE = [
    "CHAPTER I. Of Grace. Grace is the free favour of God shown to those who deserve nothing. "
    "It goes before every good work of the will and makes the will able to choose the good.",
    "The fathers taught that grace heals nature rather than destroying it. "
    "Without grace the will is bound; with grace it is set free to love God above all things.",
    "CHAPTER II. Of Justification. Justification is the act by which God declares the sinner righteous. "
    "It rests on the righteousness of Christ received by faith alone, not on works of the law.",
    "Faith is the instrument of justification and not its ground. "
    "The believer is counted righteous because Christ's obedience is reckoned to him.",
    "Good works follow justification as fruit follows the root of a tree. "
    "They are the evidence of a living faith, never the cause of the sinner's acceptance.",
    "CHAPTER III. Of Sanctification. Sanctification is the lifelong work of the Spirit in the believer. "
    "Where justification is complete at once, sanctification grows by degrees until death.",
]
HOPE = [
    "Justification, in the teaching of the council, is not only the remission of sins. "
    "It is also the sanctification and renewal of the inward man through the voluntary reception of grace.",
    "Faith is the beginning of human salvation, the foundation and root of all justification. "
    "Yet faith without hope and charity neither unites a man perfectly with Christ nor makes him a living member.",
    "Hope is the virtue by which we desire the kingdom of heaven as our happiness. "
    "It trusts in the promises of Christ and relies not on our own strength but on the help of grace.",
]


def book(owner: Any, texts: list[str], *, title: str, pages_per_passage: int = 1) -> Document:
    document = CompletedDocumentFactory(owner=owner, title=title, page_count=len(texts) * pages_per_passage)
    for index, text in enumerate(texts):
        first = 1 + index * pages_per_passage
        DocumentPassageFactory(
            document=document, chunk_index=index, text=text, page_start=first, page_end=first + pages_per_passage - 1
        )
    return document


def conversation_for(owner: Any, document: Document | None = None) -> Conversation:
    if document is None:
        return conversation_create(owner=owner, scope="documents")
    return conversation_create(owner=owner, scope="document", document_id=document.pk)


def digests_url(conversation: Any, suffix: str = "") -> str:
    return f"/api/v1/chat/conversations/{getattr(conversation, 'pk', conversation)}/digests/{suffix}"


def body(question: str, *documents: Any) -> dict[str, Any]:
    return {"question": question, "document_ids": [str(getattr(d, "pk", d)) for d in documents]}
