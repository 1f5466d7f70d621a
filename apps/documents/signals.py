"""A document's passages and stored file go with its row, however the row is deleted
(the delete service, the admin, or an account deletion cascading to its documents)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.documents import storage
from apps.documents.models import Document
from apps.index.models import Passage
from apps.index.services import passages_delete_for_source


@receiver(post_delete, sender=Document)
def _remove_passages_and_file(sender: type[Document], instance: Document, **kwargs: Any) -> None:
    passages_delete_for_source(source_kind=Passage.SourceKind.DOCUMENT, source_id=instance.pk)
    path = storage.path_for(instance)
    transaction.on_commit(lambda: storage.delete_path(path))
