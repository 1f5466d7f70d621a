"""The plan of a digest: its passages numbered once (the chat's citation numbering, so the
answer's [n] are checked like any answer's), packed into groups that each fit one map
call, the prompts of the map and reduce calls, and what it will cost at most.

One group: a single call answers from the passages themselves (the chat model). More: each
group is mapped to notes by the small model (DIGEST_MAP_MODEL), in reading order, and the
chat model reduces the notes, which keep the passages' numbers, to one answer.

The estimate is an upper bound, as the chat's token budget is (chat.budget: one token per
byte of UTF-8 sent, each output at its max_tokens), so the budget check before a digest
starts never lets one run past the budget by underestimating."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.chat import budget
from apps.chat.citations import Source, number_sources
from apps.chat.digest_selectors import Chosen
from apps.chat.providers import Usage

MAP_SYSTEM = (
    "You are reading part {part} of {parts} of the documents named below, so that a question about them as a "
    "whole can be answered from notes on every part. Write concise notes in bullet points of what this part says "
    "that bears on the question: claims, arguments, definitions, names, and short exact quotations in “curly "
    "quotes”. After every point cite its passage number in square brackets, e.g. [12]. Use only the passages "
    "given. If the question asks for a summary or nothing bears on it directly, note this part's main points."
)
ANSWER_RULES = (
    "Answer in Markdown. After each claim cite the passage it rests on by its number in square brackets, e.g. [3] "
    "or [3, 7]; never invent a number. Quote only text that is in the passages, in “curly quotes”, exactly. When "
    "several documents are asked about, say where they agree and where they differ, naming each document."
)
REDUCE_SYSTEM = (
    "You answer a question about whole documents from notes taken on each of their parts in reading order. "
    "The notes cite passages by number: keep those numbers exactly as they are. " + ANSWER_RULES
)
DIRECT_SYSTEM = "You answer a question about whole documents from their passages, numbered. " + ANSWER_RULES


@dataclass
class Plan:
    question: str
    sources: list[Source]
    groups: list[list[Source]]
    titles: list[str]

    @property
    def map_calls(self) -> int:
        return len(self.groups) if len(self.groups) > 1 else 0

    @property
    def calls(self) -> int:
        return self.map_calls + 1


def _group_budget() -> int:
    """Estimated tokens of passages in one map call: the setting, within the map model's window."""
    room = budget.context_window(settings.DIGEST_MAP_MODEL) - settings.DIGEST_NOTE_TOKENS - 2000
    return max(1000, min(settings.DIGEST_GROUP_TOKENS, room))


def plan_digest(*, question: str, chosen: Chosen) -> Plan:
    sources = number_sources(chosen.passages)
    limit, size = _group_budget(), 0
    groups: list[list[Source]] = [[]]
    current = groups[0]
    for source in sources:
        tokens = budget.estimate_tokens(source.prompt_block())
        if current and size + tokens > limit:
            current, size = [], 0
            groups.append(current)
        current.append(source)
        size += tokens
    return Plan(question=question, sources=sources, groups=groups, titles=list(chosen.titles.values()))


def _documents_line(plan: Plan) -> str:
    return "Documents: " + "; ".join(plan.titles)


def _passages_turn(plan: Plan, sources: list[Source]) -> list[dict[str, Any]]:
    blocks = "\n\n".join(source.prompt_block() for source in sources)
    text = f"{_documents_line(plan)}\n\nQuestion: {plan.question}\n\nPassages:\n\n{blocks}"
    return [{"role": "user", "content": text}]


def map_request(plan: Plan, index: int) -> tuple[str, list[dict[str, Any]]]:
    system = MAP_SYSTEM.format(part=index + 1, parts=len(plan.groups))
    return system, _passages_turn(plan, plan.groups[index])


def direct_request(plan: Plan) -> tuple[str, list[dict[str, Any]]]:
    return DIRECT_SYSTEM, _passages_turn(plan, plan.sources)


def _group_label(sources: list[Source]) -> str:
    first, last = sources[0].locator, sources[-1].locator
    return first if first == last else f"{first} to {last}"


def reduce_request(plan: Plan, notes: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """Every note within its share of the chat model's input budget."""
    head = f"{_documents_line(plan)}\n\nQuestion: {plan.question}\n\nNotes on each part, in reading order:\n\n"
    room = budget.input_budget(tools=[]) - budget.estimate_tokens(REDUCE_SYSTEM) - budget.estimate_tokens(head) - 64
    share = room // max(1, len(notes)) - 100
    parts = [
        f"## Part {i + 1} of {len(notes)} ({_group_label(group)})\n{budget.trim_to(note, share)}"
        for i, (group, note) in enumerate(zip(plan.groups, notes, strict=True))
    ]
    return REDUCE_SYSTEM, [{"role": "user", "content": head + "\n\n".join(parts)}]


def _request_tokens(request: tuple[str, list[dict[str, Any]]]) -> int:
    system, messages = request
    return budget.estimate_tokens(system) + budget.estimate_tokens(messages)


def estimate(plan: Plan) -> dict[str, Any]:
    """{map_calls, calls, estimated_input_tokens, estimated_output_tokens, estimated_cost_usd}: upper bounds."""
    if plan.map_calls:
        map_usage = Usage(
            input_tokens=sum(_request_tokens(map_request(plan, i)) for i in range(plan.map_calls)),
            output_tokens=plan.map_calls * settings.DIGEST_NOTE_TOKENS,
        )
        # The notes reach the reduce call as at most the tokens the map calls wrote.
        head = _request_tokens(reduce_request(plan, [""] * plan.map_calls))
        answer_usage = Usage(input_tokens=head + map_usage.output_tokens, output_tokens=settings.CHAT_MAX_OUTPUT_TOKENS)
    else:
        map_usage = Usage()
        answer_usage = Usage(
            input_tokens=_request_tokens(direct_request(plan)), output_tokens=settings.CHAT_MAX_OUTPUT_TOKENS
        )
    cost = map_usage.cost_usd(settings.DIGEST_MAP_MODEL) + answer_usage.cost_usd(settings.CHAT_MODEL)
    return {
        "map_calls": plan.map_calls,
        "calls": plan.calls,
        "estimated_input_tokens": map_usage.input_tokens + answer_usage.input_tokens,
        "estimated_output_tokens": map_usage.output_tokens + answer_usage.output_tokens,
        "estimated_cost_usd": cost,
    }
