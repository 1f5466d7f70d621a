"""JSON shapes of search results, scripture passages and the Bible index status."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.bible.translations import TRANSLATION_TITLES, bible_status
from apps.index.links import passage_url
from apps.index.models import Passage
from apps.index.search import SearchHit, SearchResults


class SearchHitSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="passage.id")
    source_kind = serializers.ChoiceField(source="passage.source_kind", choices=Passage.SourceKind.choices)
    title = serializers.CharField(source="passage.title")
    snippet = serializers.CharField()
    highlights = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="[start, end) character offsets of matched words in the snippet.",
    )
    score = serializers.FloatField()
    matched_by = serializers.ListField(child=serializers.ChoiceField(choices=["vector", "text", "reference"]))
    reference = serializers.SerializerMethodField(help_text="Canonical verse reference (Bible passages).")
    translation = serializers.SerializerMethodField()
    document_id = serializers.SerializerMethodField()
    entry_id = serializers.SerializerMethodField()
    page_start = serializers.IntegerField(source="passage.page_start", allow_null=True)
    page_end = serializers.IntegerField(source="passage.page_end", allow_null=True)
    page_label = serializers.CharField(
        source="passage.page_label",
        help_text='The printed page of a document passage\'s first page ("xii", "47"; the page number as text '
        'where the file has no page labels); "" for verses and knowledge entries.',
    )
    section = serializers.CharField(source="passage.section", help_text='The heading the passage sits under, or "".')
    scripture_references = serializers.ListField(source="passage.scripture_references", child=serializers.CharField())
    url = serializers.SerializerMethodField()

    def _of_kind(self, hit: SearchHit, kind: str, value: Any) -> Any:
        return value if hit.passage.source_kind == kind else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reference(self, hit: SearchHit) -> str | None:
        return self._of_kind(hit, Passage.SourceKind.BIBLE, hit.passage.reference)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_translation(self, hit: SearchHit) -> str | None:
        return self._of_kind(hit, Passage.SourceKind.BIBLE, hit.passage.translation)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_document_id(self, hit: SearchHit) -> str | None:
        return self._of_kind(hit, Passage.SourceKind.DOCUMENT, str(hit.passage.source_id))

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_entry_id(self, hit: SearchHit) -> str | None:
        return self._of_kind(hit, Passage.SourceKind.KNOWLEDGE, str(hit.passage.source_id))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_url(self, hit: SearchHit) -> str | None:
        return passage_url(hit.passage)


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField()
    references = serializers.SerializerMethodField(help_text="Scripture references found in the query.")
    results = SearchHitSerializer(source="hits", many=True)
    notices = serializers.SerializerMethodField(help_text="What limits these results (e.g. Bibles still indexing).")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_references(self, results: SearchResults) -> list[str]:
        return [reference.canonical for reference in results.references]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_notices(self, results: SearchResults) -> list[str]:
        return search_notices(self.context.get("scope", "all"))


def search_notices(scope: str) -> list[str]:
    if scope not in ("all", "bible"):
        return []
    return [
        f"The {status.title} is still being indexed ({status.percent}%): "
        "meaning-based matches cover only part of it for now."
        for status in bible_status()
        if not status.complete
    ]


class VerseSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="pythonbible verse id BBCCCVVV")
    reference = serializers.CharField()
    book = serializers.CharField()
    chapter = serializers.IntegerField()
    verse = serializers.IntegerField()
    text = serializers.CharField()


class ScripturePassageSerializer(serializers.Serializer):
    query = serializers.SerializerMethodField()
    translation = serializers.CharField()
    translation_name = serializers.SerializerMethodField()
    references = serializers.SerializerMethodField(help_text="Canonical references, e.g. Romans 8:28-30.")
    verses = VerseSerializer(many=True)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Verses this translation does not have (WEB lacks Romans 16:25-27)."
    )

    def get_query(self, passage: Any) -> str:
        return self.context.get("query", "")

    def get_translation_name(self, passage: Any) -> str:
        return TRANSLATION_TITLES[passage.translation]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_references(self, passage: Any) -> list[str]:
        return [reference.canonical for reference in passage.references]


class BibleStatusSerializer(serializers.Serializer):
    translation = serializers.CharField()
    title = serializers.CharField()
    total = serializers.IntegerField(help_text="Verses in the translation.")
    loaded = serializers.IntegerField(help_text="Verses stored: found by words and by reference.")
    embedded = serializers.IntegerField(help_text="Verses with a vector: found by meaning too.")
    percent = serializers.IntegerField()
    complete = serializers.BooleanField()
