"""The offline digest (no API key, or the breaker open): an extractive summary. The
sentences of the chosen passages are ranked by centrality (TF-IDF: how close a sentence is
to the passages' centroid, i.e. its mean similarity to every other sentence) blended with
its similarity to the question, so "what does it say about hope" and "summarise" pick
different sentences. The best ones are kept in reading order, each quoted exactly and cited
with its passage number, so the chat's citation check verifies them like any answer's.
With several documents each gets its share, so a comparison shows both sides."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from sklearn.feature_extraction.text import TfidfVectorizer

from apps.chat.citations import Source

INTROS = {
    "no_api_key": "Claude is not configured on this server, so here are the sentences that sum these passages up best:",
    "breaker_open": "Claude is unavailable at the moment, so here are the sentences that sum these passages up best:",
    "provider_error": "Claude could not finish this digest, so here are the sentences that sum these passages up best:",
}
QUESTION_WEIGHT = 0.5  # the share of the score that is similarity to the question
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘(\[A-Z0-9])")
MIN_CHARS, MAX_CHARS = 30, 400


@dataclass(frozen=True)
class Sentence:
    source: Source
    order: int  # position in reading order
    text: str


def sentences_of(sources: list[Source]) -> list[Sentence]:
    found: list[Sentence] = []
    for source in sources:
        for text in _SENTENCE_END.split(" ".join(source.passage.text.split())):
            text = text.strip()
            if MIN_CHARS <= len(text) <= MAX_CHARS and any(c.isalpha() for c in text):
                found.append(Sentence(source, len(found), text.replace("“", "'").replace("”", "'")))
    return found


def ranked(sentences: list[Sentence], question: str) -> list[tuple[float, Sentence]]:
    """(score, sentence), best first. Rows of TF-IDF are unit vectors, so a row's dot product
    with the mean row is its mean cosine similarity to all sentences: linear in their number."""
    if not sentences:
        return []
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([s.text for s in sentences])
    except ValueError:  # nothing but stop words
        return [(0.0, s) for s in sentences]
    centrality = np.asarray(matrix @ np.asarray(matrix.mean(axis=0)).ravel()).ravel()
    relevance = np.asarray((matrix @ vectorizer.transform([question]).T).todense()).ravel()
    scores = _scaled(centrality) * (1 - QUESTION_WEIGHT) + _scaled(relevance) * QUESTION_WEIGHT
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    return [(float(scores[i]), sentences[i]) for i in order]


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else values


def extractive_summary(*, question: str, sources: list[Source], titles: list[str], reason: str) -> str:
    """The answer text: an intro saying why Claude did not write it, then per document its
    best sentences in reading order, each “quoted” and cited [n] with its locator."""
    intro = INTROS.get(reason, INTROS["provider_error"])
    by_title: dict[str, list[Source]] = {title: [] for title in titles}
    for source in sources:
        by_title.setdefault(source.passage.title, []).append(source)
    per_document = max(2, settings.DIGEST_OFFLINE_SENTENCES // max(1, len(by_title)))
    lines = [intro]
    for title, own in by_title.items():
        picked = sorted((s for _, s in ranked(sentences_of(own), question)[:per_document]), key=lambda s: s.order)
        if not picked:
            continue
        if len(by_title) > 1:
            lines += ["", f"**{title}**"]
        lines.append("")
        lines += [f"- {s.source.locator}: “{s.text}” [{s.source.n}]" for s in picked]
    if len(lines) == 1:
        lines += ["", "The chosen passages hold no sentences to quote."]
    return "\n".join(lines)
