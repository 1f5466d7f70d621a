"""Chat with Claude: the model, its limits, prices, and the socket caps of every stream."""

from __future__ import annotations

from theo.settings_env import env

ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")  # another endpoint (proxy, local fake)
ANTHROPIC_MAX_RETRIES = env.int("THEO_CLAUDE_MAX_RETRIES", default=2)  # with backoff, on 429/5xx/overload
CHAT_MODEL = env("THEO_CHAT_MODEL", default="claude-sonnet-5-5")
CHAT_MAX_OUTPUT_TOKENS = env.int("THEO_CHAT_MAX_OUTPUT_TOKENS", default=1500)
CHAT_TIMEOUT_SECONDS = env.float("THEO_CHAT_TIMEOUT_SECONDS", default=60.0)
CHAT_MAX_QUESTION_CHARS = env.int("THEO_CHAT_MAX_QUESTION_CHARS", default=4000)
CHAT_SOURCES = env.int("THEO_CHAT_SOURCES", default=8)  # passages numbered into each prompt
CHAT_HISTORY_TOKENS = env.int("THEO_CHAT_HISTORY_TOKENS", default=3000)
# A passage enters the prompt with at most this many characters (chunks are cut by words,
# and one "word" of an odd PDF can be a megabyte).
CHAT_PASSAGE_CHARS = env.int("THEO_CHAT_PASSAGE_CHARS", default=2000)
# Context window in tokens by model-name prefix (the longest matching prefix wins): the
# prompt (persona, sources, history, tool results) plus the answer is kept under it.
CHAT_CONTEXT_WINDOWS = {"claude": 200_000, "default": 200_000, **env.json("THEO_CHAT_CONTEXT_WINDOWS", default={})}
CHAT_MAX_TOOL_ROUNDS = 3
# Follow-ups ("and the next verse?") become a standalone search query before retrieval: by
# this small model when Claude is configured, else (and when it fails) deterministically.
CHAT_REWRITE_MODEL = env("THEO_REWRITE_MODEL", default="claude-haiku-4-5")
# Rerank the top CHAT_RERANK_CANDIDATES fused passages with a small Claude model before the
# best CHAT_SOURCES go to the answer (off by default; its tokens count in the user's usage).
CHAT_RERANK = env.bool("THEO_RERANK", default=False)
CHAT_RERANK_MODEL = env("THEO_RERANK_MODEL", default="claude-haiku-4-5")
CHAT_RERANK_CANDIDATES = env.int("THEO_RERANK_CANDIDATES", default=30)
CHAT_ASSIST_TIMEOUT_SECONDS = env.float("THEO_ASSIST_TIMEOUT_SECONDS", default=10.0)
CHAT_SOCKETS_PER_USER = env.int("THEO_CHAT_SOCKETS_PER_USER", default=5)
CHAT_SOCKETS_TOTAL = env.int("THEO_CHAT_SOCKETS_TOTAL", default=1000)
CHAT_MAX_FRAME_BYTES = env.int("THEO_CHAT_MAX_FRAME_BYTES", default=16384)
# Other WebSockets (apps/core/sockets.py) and the SSE progress stream (apps/documents/progress.py).
EVENTS_SOCKETS_PER_USER = env.int("THEO_EVENTS_SOCKETS_PER_USER", default=10)
EVENTS_SOCKETS_TOTAL = env.int("THEO_EVENTS_SOCKETS_TOTAL", default=5000)
ROOM_SOCKETS_PER_USER = env.int("THEO_ROOM_SOCKETS_PER_USER", default=20)
ROOM_SOCKETS_TOTAL = env.int("THEO_ROOM_SOCKETS_TOTAL", default=5000)
PROGRESS_STALL_SECONDS = env.int("THEO_PROGRESS_STALL_SECONDS", default=900)
LLM_BREAKER_FAILURES = env.int("THEO_CLAUDE_BREAKER_FAILURES", default=5)
LLM_BREAKER_RESET_SECONDS = env.int("THEO_CLAUDE_BREAKER_RESET_SECONDS", default=60)
# USD per million tokens: input, output, cache write, cache read, by model-name prefix (the
# longest matching prefix wins). Check Anthropic's current price list; THEO_LLM_PRICES takes a
# JSON object of the same shape to override it.
LLM_PRICES = {
    "claude-opus": (5.0, 25.0, 6.25, 0.50),
    "claude-sonnet": (3.0, 15.0, 3.75, 0.30),
    "claude-haiku": (1.0, 5.0, 1.25, 0.10),
    "default": (3.0, 15.0, 3.75, 0.30),
    **env.json("THEO_LLM_PRICES", default={}),
}

# --- digests: whole-document questions, a map-reduce over passages (apps/chat/digest_*.py) ---
# The map step reads groups of passages with a small model; the reduce step (the answer) uses
# THEO_CHAT_MODEL. A group holds at most DIGEST_GROUP_TOKENS estimated tokens of passages.
DIGEST_MAP_MODEL = env("THEO_DIGEST_MAP_MODEL", default="claude-haiku-4-5")
DIGEST_GROUP_TOKENS = env.int("THEO_DIGEST_GROUP_TOKENS", default=24000)
DIGEST_NOTE_TOKENS = env.int("THEO_DIGEST_NOTE_TOKENS", default=700)  # max output of each map call
DIGEST_MAX_MAP_CALLS = env.int("THEO_DIGEST_MAX_MAP_CALLS", default=60)  # larger: narrow to pages or a chapter
DIGEST_MAX_DOCUMENTS = env.int("THEO_DIGEST_MAX_DOCUMENTS", default=10)
DIGEST_OFFLINE_SENTENCES = env.int("THEO_DIGEST_OFFLINE_SENTENCES", default=10)
