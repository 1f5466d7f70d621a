"""Pages: /search/ (hybrid search, with the Bible indexing progress) and /scripture/ (read
a passage in the KJV or the WEB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.bible import scripture, translations
from apps.bible.api import ScriptureParams, SearchParams, lookup_scripture, search_for
from apps.bible.serializers import search_notices
from apps.core.errors import TheoError
from apps.core.serializers import validated
from apps.index.links import passage_url
from apps.index.search import ALL_TRANSLATIONS, SCOPES, SearchHit


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


@dataclass(frozen=True)
class ShownHit:
    hit: SearchHit
    segments: list[Segment]
    url: str | None

    @property
    def passage(self) -> Any:
        return self.hit.passage


def _segments(hit: SearchHit) -> list[Segment]:
    """The snippet cut at its highlights, for the template to wrap in <mark> (escaped)."""
    segments, position = [], 0
    for start, end in hit.highlights:
        segments += [Segment(hit.snippet[position:start], False), Segment(hit.snippet[start:end], True)]
        position = end
    segments.append(Segment(hit.snippet[position:], False))
    return [segment for segment in segments if segment.text]


@login_required
def search_page(request: HttpRequest) -> HttpResponse:
    form = {
        "q": request.GET.get("q", "").strip(),
        "scope": request.GET.get("scope", "all"),
        "translation": request.GET.get("translation", ""),
    }
    context: dict[str, Any] = {
        "form": form,
        "scopes": [(scope, scope.title()) for scope in SCOPES],
        "translations": [(key, translations.TRANSLATION_TITLES[key]) for key in scripture.TRANSLATIONS]
        + [(ALL_TRANSLATIONS, "Both")],
        "statuses": translations.bible_status(),
    }
    if form["q"]:
        try:
            params = validated(SearchParams, {key: value for key, value in form.items() if value})
            results = search_for(request.user, params)
        except TheoError as error:
            context["error"] = error.details.get("q", [error.message])[0] if error.details else error.message
        else:
            context["results"] = results
            context["hits"] = [ShownHit(hit, _segments(hit), passage_url(hit.passage)) for hit in results.hits]
            context["notices"] = search_notices(params["scope"])
    return render(request, "bible/search.html", context)


@login_required
def bible_status_fragment(request: HttpRequest) -> HttpResponse:
    """Polled by the progress bar on /search/ while the Bibles are being indexed."""
    return render(request, "bible/_bible_status.html", {"statuses": translations.bible_status()})


def _chapter_link(chapter: tuple[int, int] | None, translation: str) -> str | None:
    if chapter is None:
        return None
    query = urlencode({"ref": scripture.chapter_reference(*chapter), "translation": translation})
    return f"{reverse('scripture:read')}?{query}"


@login_required
def scripture_page(request: HttpRequest) -> HttpResponse:
    ref = request.GET.get("ref", "").strip()
    translation = request.GET.get("translation", scripture.DEFAULT_TRANSLATION)
    if translation not in scripture.TRANSLATIONS:
        translation = scripture.DEFAULT_TRANSLATION
    context: dict[str, Any] = {
        "ref": ref,
        "translation": translation,
        "translations": [
            (key, translations.TRANSLATION_TITLES[key], f"?{urlencode({'ref': ref, 'translation': key})}")
            for key in scripture.TRANSLATIONS
        ],
    }
    if ref:
        try:
            params = validated(ScriptureParams, {"ref": ref, "translation": translation})
            passage = lookup_scripture(params["ref"], params["translation"])
        except TheoError as error:
            context["error"] = error.message
        else:
            chapters = passage.chapters
            context["passage"] = passage
            context["chapters"] = [
                (scripture.chapter_reference(*chapter), [v for v in passage.verses if _in(v, chapter)])
                for chapter in chapters
            ]
            if chapters:
                context["previous"] = _chapter_link(scripture.neighbour_chapter(*chapters[0], -1), translation)
                context["next"] = _chapter_link(scripture.neighbour_chapter(*chapters[-1], 1), translation)
                context["search_url"] = f"{reverse('search:index')}?{urlencode({'q': ref})}"
    return render(request, "bible/scripture.html", context)


def _in(verse: scripture.Verse, chapter: tuple[int, int]) -> bool:
    return (verse.id // 1_000_000, verse.chapter) == chapter
