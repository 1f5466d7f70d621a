"""Fixtures for tests of the chat: a fake Claude (tests/chat/fake_claude.py) per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.chat.fake_claude import FakeClaude


@pytest.fixture
def fake_claude() -> Iterator[FakeClaude]:
    """A fake Anthropic API, started for this test and stopped after it."""
    with FakeClaude() as fake:
        yield fake


@pytest.fixture
def claude_settings(settings: Any, fake_claude: FakeClaude) -> FakeClaude:
    """Points Theo's Anthropic client at `fake_claude`; returns the fake."""
    settings.ANTHROPIC_BASE_URL = fake_claude.base_url
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_MAX_RETRIES = 0
    return fake_claude


@pytest.fixture(autouse=True)
def _default_personas(db: Any) -> None:
    """Transactional tests empty the tables the seeding migration filled: seed again."""
    from apps.chat.models import Persona
    from apps.chat.personas import seed_default_personas

    seed_default_personas(Persona)
