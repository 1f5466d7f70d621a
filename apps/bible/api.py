"""Search, scripture and Bible-index status over the REST API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.bible import scripture, translations
from apps.bible.serializers import (
    BibleStatusSerializer,
    ScripturePassageSerializer,
    SearchResultsSerializer,
)
from apps.core.errors import TheoError, ValidationFailed
from apps.core.openapi import errors
from apps.core.ratelimits import enforce_rate_limit
from apps.core.serializers import validated
from apps.index.search import ALL_TRANSLATIONS, SCOPES, SearchResults, passages_search


class InvalidReference(TheoError):
    status_code = 400
    code = "invalid_reference"
    message = "That is not a Bible reference Theo understands."


class SearchParams(serializers.Serializer):
    q = serializers.CharField(max_length=500, help_text="Words, a question, or scripture references.")
    scope = serializers.ChoiceField(choices=list(SCOPES), default="all")
    k = serializers.IntegerField(min_value=1, max_value=settings.SEARCH_MAX_K, default=10)
    translation = serializers.ChoiceField(
        choices=[*scripture.TRANSLATIONS, ALL_TRANSLATIONS],
        required=False,
        help_text="Bible verses in this translation (default: the server's, usually web).",
    )


class ScriptureParams(serializers.Serializer):
    ref = serializers.CharField(max_length=300, help_text="e.g. Rom 8:28-30; John 3:16, 1 Cor 13:4-7; Ps 23")
    translation = serializers.ChoiceField(choices=list(scripture.TRANSLATIONS), default=scripture.DEFAULT_TRANSLATION)


def search_rate_limit(user: Any) -> None:
    enforce_rate_limit(
        scope="search", key=f"user:{user.pk}", message="You have searched {count} times {period}; wait a moment."
    )


def search_for(user: Any, params: dict[str, Any]) -> SearchResults:
    """Validated parameters -> results, counted against the user's search rate limit."""
    search_rate_limit(user)
    options = {key: value for key, value in params.items() if key != "q"}
    return passages_search(user=user, query=params["q"], **options)


def lookup_scripture(ref: str, translation: str) -> scripture.ScripturePassage:
    """scripture_lookup with its errors in the API's terms (shared with the reading page)."""
    try:
        return scripture.scripture_lookup(ref=ref, translation=translation, max_verses=settings.SCRIPTURE_MAX_VERSES)
    except scripture.ScriptureParseError as error:
        raise InvalidReference(str(error), details={"ref": ref, "not_understood": error.not_understood}) from error
    except scripture.TooManyVerses as error:
        raise ValidationFailed(str(error), code="too_many_verses", details={"ref": ref}) from error


class SearchView(APIView):
    @extend_schema(
        parameters=[SearchParams],
        responses={200: SearchResultsSerializer, **errors(429)},
        summary="Hybrid search (vector + full text + scripture references) over what you may read",
    )
    def get(self, request: Request) -> Response:
        params = validated(SearchParams, request.query_params)
        results = search_for(request.user, params)
        return Response(SearchResultsSerializer(results, context={"request": request, "scope": params["scope"]}).data)


class ScriptureView(APIView):
    @extend_schema(
        parameters=[ScriptureParams],
        responses=ScripturePassageSerializer,
        summary="Bible verses for a reference, in the KJV or the WEB",
    )
    def get(self, request: Request) -> Response:
        params = validated(ScriptureParams, request.query_params)
        passage = lookup_scripture(params["ref"], params["translation"])
        return Response(ScripturePassageSerializer(passage, context={"query": params["ref"]}).data)


class BibleStatusView(APIView):
    @extend_schema(
        responses=BibleStatusSerializer(many=True),
        summary="How far the Bibles are loaded and embedded (search works on what is there)",
    )
    def get(self, request: Request) -> Response:
        return Response(BibleStatusSerializer(translations.bible_status(), many=True).data)
