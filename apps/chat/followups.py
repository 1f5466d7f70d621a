"""The deterministic rewrite of a follow-up question into a standalone search query.

Retrieval reads only the words it is given: "What does the next verse say?" alone finds
nothing about John 3:17. So before retrieval a question that leans on earlier turns is
completed from them: "the next verse" / "right after that" / "the verse before" / "the rest
of the chapter" resolve against the last verse referred to; a pronoun-led or very short
question carries over the previous turn's references, names, book titles and topic words;
"and about hope?" takes the place of the previous question's topic. A question that stands
on its own is returned unchanged.

Pure (no database, no network): used offline, without an API key, while the circuit
breaker is open, and whenever Claude's rewrite fails (chat.query_rewrite).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pythonbible as bible

from apps.bible.scripture import ScriptureReference, find_references, neighbour_chapter

_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_COUNT = r"(?P<count>\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(?:verses?|lines?|ones?)"
_CLOSE = r"(?:(?:right|just|immediately)\s+)"  # "right after", "just before"
_I = re.IGNORECASE


def _any(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# (pattern, what it asks for), tried in order: chapters before verses ("the next chapter").
_RELATIVE: list[tuple[re.Pattern[str], str]] = [
    (_any(r"\b(?:the\s+)?rest\s+of\s+(?:the|that|this)\s+chapter\b", r"\bend\s+of\s+the\s+chapter\b"), "rest"),
    (_any(r"\b(?:whole|entire|full)\s+chapter\b"), "chapter"),
    (_any(r"\b(?:next|following)\s+chapter\b", r"\bchapter\s+(?:right\s+)?after\b"), "next_chapter"),
    (_any(r"\b(?:previous|preceding|last)\s+chapter\b", r"\bchapter\s+(?:right\s+)?before\b"), "previous_chapter"),
    (_any(rf"\b(?:next|following)\s+{_COUNT}\b(?:\s+{_UNIT})?"), "after"),
    (_any(rf"\b{_COUNT}\s+{_UNIT}\s+(?:after|later|on)\b"), "after"),
    (_any(rf"\b(?:previous|preceding)\s+{_COUNT}\b(?:\s+{_UNIT})?"), "before"),
    (_any(rf"\b{_COUNT}\s+{_UNIT}\s+before\b"), "before"),
    (_any(rf"\b(?:previous|preceding)\s+{_UNIT}", rf"\b{_UNIT}\s+{_CLOSE}?before\b"), "before"),
    (_any(rf"\b{_CLOSE}before\b", r"\bwhat\s+(?:comes|came|happened|happens)\s+before\b"), "before"),
    (_any(r"\blead(?:s|ing)?\s+up\s+to\b"), "before"),
    (_any(rf"\b(?:next|following)\s+{_UNIT}", rf"\b{_UNIT}\s+{_CLOSE}?after\b"), "after"),
    (_any(rf"\b{_CLOSE}after\b", r"\bwhat\s+(?:comes|came|happens|happened)\s+(?:next|after)\b"), "after"),
    (_any(r"\bwhat\s+follows\b", r"\bkeep\s+(?:going|reading)\b", r"\bgo\s+on\b", r"\bread\s+on\b"), "after_more"),
    (_any(r"\bthen\s+what\b"), "after"),
    (_any(r"\bhow\s+does\s+(?:it|that|this|the\s+\w+)\s+(?:continue|go\s+on|finish|end)\b", r"\bcontinue\b"), "after"),
]
_STARTERS = re.compile(r"^\s*(?:and|but|also|so|then|plus|or|what\s+about|how\s+about|same\s+for)\b", _I)
_PERSONAL = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their|theirs|himself|herself|themselves)\b", _I)
_OBJECT = re.compile(
    r"\b(?:it|its|the\s+same|the\s+other)\b"
    r"|\b(?:about|after|before|by|with|change|mean|meant|said|say|do|did|repeat|explain)\s+(?:that|this|those|these)\b"
    r"|\b(?:that|this|there)\s*[?.!]*\s*$|\binstead\b",
    _I,
)
_DUMMY_IT = re.compile(
    r"\bit\s+(?:mean|means|matter|matters|take|takes)\b|\bis\s+it\s+(?:true|right|wrong|ok|okay|possible|a\s+sin|sinful|biblical)\b",
    _I,
)
# "and about hope?", "what about the fruit?", "and of woman?": a new topic for the old question.
_SUBSTITUTE = re.compile(
    r"^\s*(?:and|but|also|now|then)?\s*(?:what|how)?\s*(?:about\s+)?(?:(?P<prep>about|of|on|for|concerning|regarding)\s+)?"
    r"(?P<tail>[\w'’ -]{1,40}?)\s*[?.!]*\s*$",
    _I,
)
_PREPOSITIONS = ("about", "concerning", "regarding", "on", "of", "for")
_POSSESSIVE_PRONOUN = re.compile(r"^(?:his|her|their|its)\s+", _I)
_POSSESSOR = re.compile(r"^(?P<who>[A-Z][\w]*(?:'s|’s|'|’))\s+")
_WORD = re.compile(r"[A-Za-z][\w'’]*")
_NAME_CONNECTORS = {"of", "on", "the"}
_STOP_WORDS = """
a an the and or but so then also plus of on in at to for from with by about into over under after
before what whats what's who whom whose which when where why how is are was were be been being do
does did done doing has have had say says said saying tell told show read look give me my i you your
we us our it its this that these those there here he she him her his they them their verse verses
line lines chapter next previous following one ones same other thing things right just exactly
immediately more much many some any can could would should will shall may might must not no yes
please kind sort mean means meant teach teaches taught bible scripture scriptures passage passages
text word words let lets add added repeat repeats explain explains describe describes write wrote
written come comes came go goes went book letter story happened happen happens keep going follows
follow continue continues finish ends end became become becomes instead
"""
_STOP = set(_STOP_WORDS.split())
_MAX_CARRIED_VERSES = 12  # a longer reference (a chapter of Genesis) is carried as its book name


@dataclass(frozen=True)
class _Context:
    references: list[ScriptureReference]
    names: list[str]
    topics: list[str]


def needs_context(question: str) -> bool:
    """Whether `question` leans on earlier turns: a relative verse, a pronoun, a leading
    "and"/"what about", or a few words that name nothing ("why?")."""
    if any(pattern.search(question) for pattern, _ in _RELATIVE):
        return True
    if find_references(question):
        return False
    words = _WORD.findall(question)
    without_dummy = _DUMMY_IT.sub(" ", question)
    vague = len(words) <= 3 and all(word.lower() in _STOP for word in words)  # "why?", "how so?"
    return bool(vague or _STARTERS.search(question) or _PERSONAL.search(question) or _OBJECT.search(without_dummy))


def rewrite(question: str, *, previous: Sequence[str], last_answer: str = "") -> str:
    """`question` as a standalone search query. `previous`: the standalone queries of the
    earlier turns (their rewrites, or the questions as asked), oldest first; `last_answer`:
    the last answer's text (its first reference anchors "the next verse" when no question
    named one)."""
    question = " ".join(question.split())
    if not previous or not question or not needs_context(question):
        return question
    anchor = _anchor([question, *reversed(previous[-3:])], last_answer)
    for pattern, wants in _RELATIVE:
        match = pattern.search(question)
        if match and anchor is not None:
            resolved = _resolve(anchor, wants, _count(match))
            if resolved:
                return _with_rest(resolved, question, match)
    if find_references(question):
        return question
    substituted = _substitute(question, previous[-1])
    if substituted:
        return substituted
    carried = _carried(question, _context(previous[-1]), anchor)
    return f"{question} ({', '.join(carried)})" if carried else question


# --- "the next verse" -----------------------------------------------------------------------


def _anchor(texts: Sequence[str], last_answer: str) -> ScriptureReference | None:
    """The last reference of the newest text that names one, else the answer's first."""
    for text in texts:
        references = find_references(text)
        if references:
            return references[-1]
    references = find_references(last_answer) if last_answer else []
    return references[0] if references else None


def _count(match: re.Match[str]) -> int:
    count = match.groupdict().get("count")
    if not count:
        return 1
    return min(_NUMBERS.get(count.lower()) or int(count), 20)


def _split(verse_id: int) -> tuple[int, int, int]:
    return verse_id // 1_000_000, verse_id // 1000 % 1000, verse_id % 1000


def _verses_in(book: int, chapter: int) -> int:
    return bible.get_number_of_verses(bible.Book(book), chapter)


def _step(verse_id: int, step: int) -> int | None:
    """The verse after (+1) or before (-1), across chapter and book boundaries."""
    book, chapter, verse = _split(verse_id)
    verse += step
    if 1 <= verse <= _verses_in(book, chapter):
        return book * 1_000_000 + chapter * 1000 + verse
    neighbour = neighbour_chapter(book, chapter, step)
    if neighbour is None:
        return None
    book, chapter = neighbour
    return book * 1_000_000 + chapter * 1000 + (1 if step > 0 else _verses_in(book, chapter))


def _resolve(anchor: ScriptureReference, wants: str, count: int) -> str:
    """The reference a relative phrase names, as text ("John 3:17"); "" when there is none."""
    first, last = min(anchor.verse_ids), max(anchor.verse_ids)
    book, chapter, _ = _split(last)
    if wants in ("next_chapter", "previous_chapter"):
        neighbour = neighbour_chapter(book, chapter, 1 if wants == "next_chapter" else -1)
        return f"{bible.Book(neighbour[0]).title} {neighbour[1]}" if neighbour else ""
    if wants == "chapter":
        return f"{bible.Book(book).title} {chapter}"
    if wants == "rest":
        ids = list(range(last + 1, book * 1_000_000 + chapter * 1000 + _verses_in(book, chapter) + 1))
        return _format(ids)
    if wants == "after_more":  # "keep going": a few verses on
        wants, count = "after", max(count, 3)
    ids, current = [], last if wants == "after" else first
    for _ in range(count):
        step = _step(current, 1 if wants == "after" else -1)
        if step is None:
            break
        ids.append(step)
        current = step
    return _format(sorted(ids))


def _format(verse_ids: list[int]) -> str:
    if not verse_ids:
        return ""
    return bible.format_scripture_references(bible.convert_verse_ids_to_references(verse_ids))


def _with_rest(reference: str, question: str, match: re.Match[str]) -> str:
    """The resolved reference, and the question too when it asks more than "the next verse"."""
    rest = question[: match.start()] + question[match.end() :]
    if any(word.lower() not in _STOP and not find_references(f"{word} 1") for word in _WORD.findall(rest)):
        return f"{reference}: {question}"
    return reference


# --- "and about hope?" ----------------------------------------------------------------------


def _substitute(question: str, previous: str) -> str:
    """The previous question with its topic replaced: "What does the Bible say about faith?"
    + "and about hope?" -> "What does the Bible say about hope?"."""
    if not _STARTERS.search(question):
        return ""
    match = _SUBSTITUTE.match(question)
    if match is None:
        return ""
    tail = match.group("tail").strip()
    if not tail or len(tail.split()) > 4 or _PERSONAL.fullmatch(tail) or tail.lower() in _STOP:
        return ""
    if any(word.lower() in {"do", "does", "did", "is", "are", "was", "were", "can", "should"} for word in tail.split()):
        return ""
    body = previous.rstrip(" ?.!")
    prepositions = [match.group("prep").lower()] if match.group("prep") else list(_PREPOSITIONS)
    for preposition in prepositions:
        at = body.lower().rfind(f" {preposition} ")
        if at >= 0:
            head, old = body[: at + len(preposition) + 2], body[at + len(preposition) + 2 :]
            return f"{head}{_new_topic(tail, old, keep_of=not match.group('prep'))}?"
    return ""


def _new_topic(tail: str, old: str, *, keep_of: bool) -> str:
    """ "the fruit" for "the gifts of the Spirit" -> "the fruit of the Spirit"; "his burial"
    for "Jesus' death" -> "Jesus' burial"."""
    possessor = _POSSESSOR.match(old)
    if possessor and _POSSESSIVE_PRONOUN.match(tail):
        tail = possessor.group("who") + " " + _POSSESSIVE_PRONOUN.sub("", tail)
    of = old.lower().find(" of ")
    if keep_of and of > 0 and " of " not in f" {tail.lower()} ":
        return tail + old[of:]
    return tail


# --- carrying names, books and topics -------------------------------------------------------


def _names(text: str) -> list[str]:
    """Runs of capitalised words that are not question words ("Mary Magdalene", "Sermon on
    the Mount", "Abraham"), possessives dropped."""
    words = _WORD.findall(text)
    names: list[str] = []
    run: list[str] = []
    for index, word in enumerate(words):
        capital = word[0].isupper() and word.lower() not in _STOP
        joins = run and word.lower() in _NAME_CONNECTORS and index + 1 < len(words) and words[index + 1][0].isupper()
        if capital or joins:
            run.append(word)
            continue
        if run:
            names.append(" ".join(run))
        run = []
    if run:
        names.append(" ".join(run))
    return list(dict.fromkeys(re.sub(r"(?:'s|’s|'|’)$", "", name) for name in names))


def _context(text: str) -> _Context:
    names = _names(text)
    name_words = {word.lower() for name in names for word in _WORD.findall(name)}
    topics = [
        word
        for word in (re.sub(r"(?:'s|’s|'|’)$", "", w).lower() for w in _WORD.findall(text))
        if len(word) > 2 and word not in _STOP and word not in name_words
    ]
    return _Context(find_references(text), names, list(dict.fromkeys(topics)))


def _carried(question: str, context: _Context, anchor: ScriptureReference | None) -> list[str]:
    """What of the previous turn the follow-up needs: its reference (a verse with the ones
    around it, for "who said it?"), its names unless the follow-up names someone else
    without a pronoun for them, its topic words when the follow-up points back at "it"."""
    own_names = _names(question)
    own_words = {word.lower() for word in _WORD.findall(question)}
    personal = bool(_PERSONAL.search(question))
    carried: list[str] = []
    references = context.references or ([anchor] if anchor else [])
    for reference in references[-2:]:
        carried.append(_around(reference))
    if not own_names or personal:
        for name in context.names:
            is_book = bool(find_references(f"{name} 1"))
            if name.lower() not in own_words and not (is_book and (own_names or references)):
                carried.append(name)
    short = len(_WORD.findall(question)) <= 4
    if short or _OBJECT.search(_DUMMY_IT.sub(" ", question)) or personal:
        carried += [topic for topic in context.topics if topic not in own_words]
    return list(dict.fromkeys(item for item in carried if item))


def _around(reference: ScriptureReference) -> str:
    """A single verse with the two verses before it and the one after ("who said it?" is
    answered just before); a range as it is (a carried rewrite does not widen again and
    again); a long reference as its book's name."""
    if len(reference.verse_ids) > _MAX_CARRIED_VERSES:
        return bible.Book(_split(reference.verse_ids[0])[0]).title
    if len(reference.verse_ids) > 1:
        return reference.canonical
    ids = list(reference.verse_ids)
    for _ in range(2):
        before = _step(min(ids), -1)
        if before is not None and _split(before)[:2] == _split(min(ids))[:2]:
            ids.append(before)
    after = _step(max(ids), 1)
    if after is not None and _split(after)[:2] == _split(max(ids))[:2]:
        ids.append(after)
    return _format(sorted(set(ids)))
