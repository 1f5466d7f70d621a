"""factory_boy factories for knowledge entries and the people who write and read them.

Rows are built directly (no service, no index), so tests choose any status. E-mail
addresses and titles are unique across processes: the test database is shared with
other test runs."""

from __future__ import annotations

import uuid
from typing import Any

import factory

from apps.knowledge.models import KnowledgeEntry
from apps.users.models import User
from tests.users.factories import UserFactory


class MemberFactory(UserFactory):
    email = factory.LazyFunction(lambda: f"member-{uuid.uuid4().hex[:12]}@example.org")
    display_name = factory.Sequence(lambda n: f"Member {n}")


class AuthorFactory(MemberFactory):
    """A power user: writes entries."""

    role = User.Role.POWER


class StaffFactory(MemberFactory):
    role = User.Role.ADMIN


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeEntry

    title = factory.LazyFunction(lambda: f"Entry {uuid.uuid4().hex[:10]}")
    body = "Justification is by grace through faith (Eph 2:8-9)."
    tags = factory.LazyFunction(lambda: ["soteriology"])
    source = "Westminster Confession 11"
    status = KnowledgeEntry.Status.DRAFT
    author = factory.SubFactory(AuthorFactory)


class ApprovedEntryFactory(EntryFactory):
    status = KnowledgeEntry.Status.APPROVED


ENTRIES_URL = "/api/v1/knowledge/entries/"


def entry_url(entry: Any, suffix: str = "") -> str:
    pk = entry if isinstance(entry, str | uuid.UUID) else entry.pk
    return f"{ENTRIES_URL}{pk}/{suffix}"
