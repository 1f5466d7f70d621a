"""Reads for digests (whole-document questions): a digest through its conversation's access
rule, the chosen documents through the documents' own, their passages through the index's,
and the part of them a question names ("chapter 3", "pages 10-20")."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from apps.chat.models import Digest
from apps.chat.selectors import conversation_get_for
from apps.core.errors import NotFound, ValidationFailed
from apps.documents.selectors import document_get_for
from apps.index.models import Passage
from apps.index.selectors import visible_passages


def digest_get_for(*, user: Any, conversation_id: Any, pk: Any) -> Digest:
    """A digest of a conversation `user` owns; 404 otherwise (the conversation's rule)."""
    conversation = conversation_get_for(user=user, pk=conversation_id)
    digest = Digest.objects.filter(conversation=conversation, pk=pk).first()
    if digest is None:
        raise NotFound("No such digest.")
    return digest


@dataclass(frozen=True)
class Part:
    """The part of the documents a question names: pages (`first`..`last`) or a numbered
    chapter/section/part (`number`); kind "" is the whole documents."""

    kind: str = ""  # "" | "pages" | "chapter"
    label: str = ""  # as the question said it: "pages 10-20", "chapter 3"
    first: int = 0
    last: int = 0
    number: int = 0
    word: str = "chapter"  # the heading's word: chapter, section, part, lecture, sermon


_PAGES = re.compile(r"\b(?:pages?|pp?\.)\s*(\d{1,5})(?:\s*(?:-|–|to|through|and)\s*(\d{1,5}))?", re.IGNORECASE)
_WORD_NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
_ROMAN = [
    "i",
    "ii",
    "iii",
    "iv",
    "v",
    "vi",
    "vii",
    "viii",
    "ix",
    "x",
    "xi",
    "xii",
    "xiii",
    "xiv",
    "xv",
    "xvi",
    "xvii",
    "xviii",
    "xix",
    "xx",
]
_HEADING = re.compile(
    r"\b(chapter|section|part|lecture|sermon)\s+(\d{1,3}|[ivxl]{1,6}|" + "|".join(_WORD_NUMBERS) + r")\b",
    re.IGNORECASE,
)


def _number(token: str) -> int:
    token = token.lower()
    if token.isdigit():
        return int(token)
    if token in _WORD_NUMBERS:
        return _WORD_NUMBERS.index(token) + 1
    return _ROMAN.index(token) + 1 if token in _ROMAN else 0


def part_named_in(question: str) -> Part:
    """The pages or chapter the question names, if any (pages first: "pages 3-5 of chapter 2")."""
    pages = _PAGES.search(question)
    if pages:
        first = int(pages.group(1))
        last = int(pages.group(2) or first)
        first, last = min(first, last), max(first, last)
        return Part("pages", " ".join(pages.group(0).split()), first, last)
    heading = _HEADING.search(question)
    if heading and _number(heading.group(2)):
        label = " ".join(heading.group(0).split()).lower()
        return Part("chapter", label, number=_number(heading.group(2)), word=heading.group(1).lower())
    return Part()


def _heading_pattern(word: str, number: int) -> re.Pattern[str]:
    """`word` followed by `number` as a numeral, a roman numeral or a word."""
    spellings = [str(number)]
    if number <= len(_ROMAN):
        spellings.append(_ROMAN[number - 1])
    if number <= len(_WORD_NUMBERS):
        spellings.append(_WORD_NUMBERS[number - 1])
    return re.compile(rf"\b{word}\s+(?:{'|'.join(spellings)})\b", re.IGNORECASE)


def passages_in_part(passages: list[Passage], part: Part) -> list[Passage]:
    """The passages (of one document, in order) inside `part`. The one place the part is
    matched: pages by the passage's page span; a chapter from the first passage that names
    its heading ("Chapter 3", "CHAPTER III") up to the one that names the next.
    When passages carry `section` and `page_label` (issue 12), match on those here."""
    if not part.kind:
        return passages
    if part.kind == "pages":
        return [
            p
            for p in passages
            if p.page_start is not None and p.page_start <= part.last and (p.page_end or p.page_start) >= part.first
        ]
    start, following = _heading_pattern(part.word, part.number), _heading_pattern(part.word, part.number + 1)
    inside: list[Passage] = []
    for passage in passages:
        if not inside and start.search(passage.text):
            inside.append(passage)
        elif inside:
            if following.search(passage.text):
                break
            inside.append(passage)
    return inside


@dataclass
class Chosen:
    """The documents of a digest (in the order asked) and their passages in reading order."""

    titles: dict[uuid.UUID, str]
    passages: list[Passage]
    part: Part


def digest_documents(*, user: Any, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """{id: title} of the chosen documents, each one `user` may read (404 otherwise: the
    documents' own access rule, so another reader's document and no document look alike)."""
    return {pk: document_get_for(user=user, pk=pk).title for pk in dict.fromkeys(document_ids)}


def digest_passages(*, user: Any, question: str, document_ids: list[uuid.UUID]) -> Chosen:
    """The passages a digest reads: the chosen documents' (the index's access rule applied
    as well), limited to the part the question names. 400 when a document has no passages
    yet, or the named part matches none of them."""
    titles = digest_documents(user=user, document_ids=document_ids)
    rows = (
        visible_passages(user)
        .filter(source_kind=Passage.SourceKind.DOCUMENT, source_id__in=list(titles))
        .defer("embedding")
        .order_by("source_id", "chunk_index")
    )
    by_document: dict[uuid.UUID, list[Passage]] = {pk: [] for pk in titles}
    for passage in rows:
        by_document[passage.source_id].append(passage)
    empty = [titles[pk] for pk, found in by_document.items() if not found]
    if empty:
        raise ValidationFailed(
            f"{', '.join(empty)} has no passages yet: wait until it is processed, then ask again.",
            code="document_not_ready",
            details={"document_ids": [f"No passages yet: {title}" for title in empty]},
        )
    part = part_named_in(question)
    chosen = [p for pk in titles for p in passages_in_part(by_document[pk], part)]
    if not chosen:
        raise ValidationFailed(
            f"The question names {part.label}, but no passage of the chosen documents is in it. "
            "Name pages instead (e.g. 'pages 10-20'), or ask about the whole document.",
            code="part_not_found",
            details={"question": [f"Nothing found for {part.label}."]},
        )
    return Chosen(titles=titles, passages=chosen, part=part)
