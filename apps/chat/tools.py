"""The tools Claude may call during an answer (chat.providers.TOOLS), run with the asking
user's access rule and the conversation's scope; the passages they find join the numbered
sources, as many as fit in the room the prompt budget leaves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apps.bible import scripture
from apps.bible.translations import translation_source_id
from apps.chat import budget, providers
from apps.chat.citations import Source
from apps.chat.models import Conversation
from apps.chat.selectors import effective_scope
from apps.index.models import Passage
from apps.index.search import passages_search
from apps.index.selectors import visible_passages

if TYPE_CHECKING:
    from apps.chat.answer import Prepared

SEARCH_SCOPES = {"all", "documents", "knowledge", "bible"}


def search_scope(conversation: Conversation) -> tuple[str, list[Any] | None]:
    """(search scope, source ids) for the conversation; guests are held to the Bible."""
    scope = effective_scope(user=conversation.owner, scope=conversation.scope)
    if scope == Conversation.Scope.DOCUMENT:
        return "documents", [conversation.document_id]
    return scope, None


def run_tool(prepared: Prepared, name: str, tool_input: dict[str, Any], room: int) -> str:
    """Execute a tool with the asking user's access rule; new passages join the sources, as
    many (best first) as fit in `room` estimated tokens."""
    if name == "search_library":
        query = str(tool_input.get("query", "")).strip()[:500]
        if not query:
            return "Give a query."
        conversation_scope, source_ids = search_scope(prepared.conversation)
        scope = str(tool_input.get("scope") or conversation_scope)
        if scope not in SEARCH_SCOPES or conversation_scope != "all":
            scope = conversation_scope  # a narrower conversation stays narrow
        passages = [
            hit.passage
            for hit in passages_search(user=prepared.user, query=query, scope=scope, k=5, source_ids=source_ids).hits
        ]
        return _add_sources(prepared, passages, room) if passages else "Nothing matched."
    if name == "lookup_scripture":
        translation = (
            str(tool_input["translation"]) if tool_input.get("translation") in scripture.TRANSLATIONS else "web"
        )
        try:
            passage = scripture.scripture_lookup(
                ref=str(tool_input.get("reference", "")), translation=translation, max_verses=60
            )
        except (scripture.ScriptureParseError, scripture.TooManyVerses) as error:
            return str(error)
        readable = (
            visible_passages(prepared.user)
            .filter(
                source_kind=Passage.SourceKind.BIBLE,
                source_id=translation_source_id(translation),
                chunk_index__in=[verse.id for verse in passage.verses],
            )
            .order_by("chunk_index")
        )
        verses = list(readable)
        if verses:
            return _add_sources(prepared, verses, room)
        return budget.trim_to("\n".join(f"{v.reference}: {v.text}" for v in passage.verses), room)
    return f"Unknown tool {name}."


def _add_sources(prepared: Prepared, passages: list[Passage], room: int) -> str:
    """The passages' numbered blocks while they fit in `room`; only those become sources."""
    known = {source.passage.pk: source for source in prepared.sources}
    blocks: list[str] = []
    left = room - budget.OVERHEAD_PER_BLOCK
    for passage in passages:
        source = known.get(passage.pk) or Source(len(prepared.sources) + 1, passage)
        block = source.prompt_block()
        cost = budget.estimate_tokens(block) - budget.OVERHEAD_PER_BLOCK + 2  # as JSON (escapes), plus the join
        if cost > left:
            break  # the rest rank lower
        left -= cost
        if passage.pk not in known:
            prepared.sources.append(source)
            known[passage.pk] = source
        blocks.append(block)
    return "\n\n".join(blocks) or providers.NO_ROOM
