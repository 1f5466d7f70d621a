"""A document's themes: its most distinctive terms by TF-IDF over its own passages."""

from __future__ import annotations

from functools import cache

from pythonbible import Book
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

THEME_COUNT = 10
# Words too common in theological writing to say what a document is about.
DOMAIN_STOP_WORDS = {"god", "lord", "shall", "unto", "thee", "thou", "thy", "hath", "ye", "said", "saith", "also"}


@cache
def _stop_words() -> list[str]:
    """English and domain stop words, and the Bible's book names and abbreviations: a
    commentary citing "Rom 8:28" a hundred times is not about "rom"."""
    books = {word.lower() for book in Book for name in (book.title, *book.abbreviations) for word in name.split()}
    return sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS | books)


def identify_themes(texts: list[str], *, count: int = THEME_COUNT) -> list[str]:
    if not any(text.strip() for text in texts):
        return []
    vectorizer = TfidfVectorizer(
        stop_words=_stop_words(),
        ngram_range=(1, 2),
        sublinear_tf=True,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]{2,}\b",
        max_features=20000,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing left after stop words
        return []
    scores = matrix.sum(axis=0).A1
    terms = vectorizer.get_feature_names_out()
    ranked = sorted(zip(terms, scores, strict=True), key=lambda pair: -pair[1])
    themes: list[str] = []
    for term, _ in ranked:
        if any(term in chosen or chosen in term for chosen in themes):
            continue  # "grace" and "free grace": keep one
        themes.append(term)
        if len(themes) == count:
            break
    return themes
