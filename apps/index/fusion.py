"""Fusing the vector and text rankings into one list: scores, not ranks.

Reciprocal rank fusion threw the scores away: a verse the vector ranking put first by a
wide margin lost to one both rankings put fifth. Here every candidate either ranking found
gets both of its scores (cosine similarity to the query, and the BM25 share of the query it
matches, see text_ranking) and the fused score is

    similarity + TEXT_WEIGHT[kind] * text + OFFSET[kind]

with one weight and offset per kind of source: Bible verses are short and the embedding
model reads them well, so their words count less than a 180-word book chunk's, whose
embedding blurs. The values were learned on the tuning halves of bench/eval (verse sets for
verses, the rendered book for library passages, both in "all" scope for the offset); see
docs/architecture.md "Ranking" for the figures.

Two recall sources widen the vector side: both translations (a verse found through the KJV
or the WEB counts once, at its better score) and neighbouring-verse windows (a sentence that
runs over two verses matches neither verse alone; the pair's mean embedding is scored and
credited to both).
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.index.models import Passage
from apps.index.text_ranking import WeightedWord

BIBLE, DOCUMENT, KNOWLEDGE = Passage.SourceKind.BIBLE, Passage.SourceKind.DOCUMENT, Passage.SourceKind.KNOWLEDGE
TEXT_WEIGHT: dict[str, float] = {BIBLE: 0.2, DOCUMENT: 0.8, KNOWLEDGE: 0.8}
# Query-type routing (learned on the tune halves, bench/fusion_tune.py; figures in
# docs/architecture.md "Ranking"):
# - A few words typed into a search box ("fight still", "widows orphans") are words the
#   reader expects to find, so the text ranking leads and meaning only breaks ties: at most
#   four words, none a stop word, one word typed in two forms ("dream dreams") counted once.
#   Keywords tune half MRR 0.97 at 4.0 and 0.975 at 10 (text alone 0.969); more is the same.
# - Any other query: when the text ranking is sure, it leads too. Sure means its best
#   passage is a verse and the next verse scores at most SURE_TEXT_RATIO of it (a name or a
#   rare phrase only that verse has: "Timothy's grandmother", "climbed a tree to see
#   Jesus"); then verses get SURE_TEXT_WEIGHT. Narrative tune MRR 0.83 -> 0.88 (text alone
#   0.84), familiar 0.81 -> 0.83; the ratio was chosen from 0.5-0.85, the weight from
#   0.5-10. Only when the best is a verse: a book passage that alone matches is already
#   weighted by its kind, and lifting verses then pushed books down in "all" scope.
# - A reference is routed before fusion (reference matches come first). Rejected on the
#   tune halves: a lower weight when the text ranking is unsure (tune +0.03 MRR, test
#   -0.02: one familiar query), and a "theme" route for "verses about ..." (no tune gain).
KEYWORD_TEXT_WEIGHT: dict[str, float] = {BIBLE: 10.0, DOCUMENT: 0.8, KNOWLEDGE: 0.8}
KEYWORDS_AT_MOST = 4
SAME_WORD_PREFIX = 5  # "wonderful wonderfully", "dream dreams": one word, one lexeme
SURE_TEXT_RATIO = 0.7
SURE_TEXT_WEIGHT = 2.0
OFFSET: dict[str, float] = {BIBLE: 0.0, DOCUMENT: 0.1, KNOWLEDGE: 0.1}
WINDOW_DISCOUNT = 0.95  # a window is credited a little below a verse that matches alone
# No one group (Bible, library) and no one book may hold more than this share of the
# results while the other has candidates: a reader's own commentary is not drowned by
# 62,000 verses, and one book does not crowd out the rest of the library.
MOST_OF_ONE = 0.7
_WORD = re.compile(r"\w+")


@dataclass
class Candidate:
    id: uuid.UUID
    source_kind: str
    source_id: uuid.UUID
    chunk_index: int
    verse_ids: list[int]
    translation: str
    similarity: float = 0.0
    text: float = 0.0
    matched_by: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def group(self) -> str:
        return "bible" if self.source_kind == BIBLE else "library"

    @property
    def verse(self) -> int | None:
        """The verse a Bible passage is, for counting a verse found twice once."""
        return self.verse_ids[0] if self.source_kind == BIBLE and len(self.verse_ids) == 1 else None


def candidates_from(rows: Iterable[tuple[Any, ...]]) -> dict[uuid.UUID, Candidate]:
    """Candidates from feature rows (id, kind, source, chunk, verse_ids, translation,
    similarity, similarity of the verse joined with the next, text score)."""
    found: dict[uuid.UUID, Candidate] = {}
    windows: dict[tuple[uuid.UUID, int], float] = {}
    for passage_id, kind, source_id, chunk_index, verse_ids, translation, similarity, window, text in rows:
        found[passage_id] = Candidate(
            passage_id,
            kind,
            source_id,
            chunk_index,
            list(verse_ids),
            translation,
            float(similarity or 0.0),
            text or 0.0,
        )
        if window is not None:
            windows[(source_id, chunk_index)] = WINDOW_DISCOUNT * float(window)
    _credit_windows(found, windows)
    return found


def _credit_windows(found: dict[uuid.UUID, Candidate], windows: dict[tuple[uuid.UUID, int], float]) -> None:
    """Both verses of a window keep the better of their own score and the window's."""
    by_place = {(c.source_id, c.chunk_index): c for c in found.values() if c.verse is not None}
    for (source_id, chunk_index), window in windows.items():
        for place in ((source_id, chunk_index), (source_id, chunk_index + 1)):
            verse = by_place.get(place)
            if verse is not None:
                verse.similarity = max(verse.similarity, window)


def blend_second(
    candidates: Iterable[Candidate],
    first: list[tuple[uuid.UUID, float]],
    second: list[tuple[uuid.UUID, float]],
) -> None:
    """With the ensemble on: each candidate's similarity becomes the mean of its own and
    the second model's, the second mapped onto the first's scale by the best and the last
    score each model returned (the helper's score-normalised sum at equal weight, kept in
    the first model's units so the text weights above still hold). A candidate the second
    model did not return is given its last score."""
    if len(first) < 2 or len(second) < 2:
        return
    first_best, first_last = 1 - first[0][1], 1 - first[-1][1]
    second_best, second_last = 1 - second[0][1], 1 - second[-1][1]
    scale = (first_best - first_last) / (second_best - second_last or 1.0)
    by_id = {passage_id: 1 - distance for passage_id, distance in second}
    for candidate in candidates:
        aligned = first_last + (by_id.get(candidate.id, second_last) - second_last) * scale
        candidate.similarity = (candidate.similarity + aligned) / 2


def text_weights(query: str, words: Sequence[WeightedWord], candidates: Sequence[Candidate]) -> dict[str, float]:
    """The text weight per source kind for this query: keywords lean on the words, and so
    does any query whose text ranking is sure of its best verse; otherwise meaning leads."""
    typed = [word.lower() for word in _WORD.findall(query) if not word.isdigit()]
    distinct = {word[:SAME_WORD_PREFIX] for word in typed}
    if 0 < len(typed) <= KEYWORDS_AT_MOST and len(words) >= len(distinct):
        return KEYWORD_TEXT_WEIGHT
    if text_is_sure(candidates):
        return {**TEXT_WEIGHT, BIBLE: SURE_TEXT_WEIGHT}
    return TEXT_WEIGHT


def text_is_sure(candidates: Sequence[Candidate]) -> bool:
    """The best text match is a verse and no other verse or passage comes near it (a verse
    in two translations counts once, at its better score)."""
    best: dict[Any, Candidate] = {}
    for candidate in candidates:
        key = candidate.verse if candidate.verse is not None else candidate.id
        if key not in best or candidate.text > best[key].text:
            best[key] = candidate
    ranked = sorted(best.values(), key=lambda candidate: -candidate.text)
    if not ranked or ranked[0].text <= 0 or ranked[0].source_kind != BIBLE:
        return False
    return len(ranked) == 1 or ranked[1].text <= SURE_TEXT_RATIO * ranked[0].text


def fused(candidate: Candidate, methods: set[str], *, vector: str, text: str, weights: dict[str, float]) -> float:
    if methods >= {vector, text}:
        kind = candidate.source_kind
        return candidate.similarity + weights.get(kind, 0.8) * candidate.text + OFFSET.get(kind, 0.0)
    return candidate.similarity if vector in methods else candidate.text


def one_per_verse(ranked: list[Candidate], *, display: str | None) -> list[Candidate]:
    """Best first, a verse found in several translations once (its best score kept, the
    rankings that found it in any translation merged). `display` None keeps every
    translation apart (the reader asked for all)."""
    if display is None:
        return ranked
    kept: dict[Any, Candidate] = {}
    for candidate in ranked:
        key = candidate.verse if candidate.verse is not None else candidate.id
        best = kept.get(key)
        if best is None:
            kept[key] = candidate
            continue
        best.matched_by = list(dict.fromkeys([*best.matched_by, *candidate.matched_by]))
        if best.translation != display and candidate.translation == display:
            candidate.score, candidate.matched_by = best.score, best.matched_by
            kept[key] = candidate
    return list(kept.values())


def diversified(ranked: list[Candidate], k: int) -> list[Candidate]:
    """The first k, with no group (Bible, library) and no single source over
    MOST_OF_ONE of them while something else is there to take the place; the rest of
    the order is kept."""
    cap = max(1, math.ceil(MOST_OF_ONE * k))
    groups = {candidate.group for candidate in ranked}
    sources = {candidate.source_id for candidate in ranked if candidate.group == "library"}
    chosen: list[Candidate] = []
    held_back: list[Candidate] = []
    per_group: Counter[str] = Counter()
    per_source: Counter[uuid.UUID] = Counter()
    for candidate in ranked:
        if len(chosen) == k:
            break
        too_many_of_group = len(groups) > 1 and per_group[candidate.group] >= cap
        too_many_of_source = (
            len(sources) > 1 and candidate.group == "library" and per_source[candidate.source_id] >= cap
        )
        if too_many_of_group or too_many_of_source:
            held_back.append(candidate)
            continue
        chosen.append(candidate)
        per_group[candidate.group] += 1
        per_source[candidate.source_id] += 1
    return chosen + held_back[: k - len(chosen)]
