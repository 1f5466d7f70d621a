"""Where a reader opens a passage. The index names the pages by their URL names only, so
it imports none of the apps that serve them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from apps.index.models import Passage


def passage_url(passage: Passage) -> str | None:
    """Where a reader opens the passage: the verse in the reading page, the document at
    its page, the knowledge entry."""
    try:
        if passage.source_kind == Passage.SourceKind.BIBLE:
            query = urlencode({"ref": passage.reference, "translation": passage.translation})
            return f"{reverse('scripture:read')}?{query}#v{passage.chunk_index}"
        if passage.source_kind == Passage.SourceKind.DOCUMENT:
            url = reverse("documents:detail", args=[passage.source_id])
            return f"{url}?passage={passage.pk}#passage-{passage.pk}"
        return reverse("knowledge:detail", args=[passage.source_id])
    except NoReverseMatch:
        return None
