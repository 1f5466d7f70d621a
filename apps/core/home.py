"""What the home page offers each user: one card per thing their role lets them do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class Capability:
    title: str
    description: str
    url_name: str
    nav_title: str = ""

    @property
    def url(self) -> str | None:
        try:
            return reverse(self.url_name)
        except NoReverseMatch:  # a page not installed in this build
            return None


def capabilities_for(user: Any) -> list[Capability]:
    if not user.is_authenticated:
        return []
    items = []
    if user.role != "guest":
        items.append(
            Capability(
                "Documents", "Upload books, commentaries and sermons; follow Theo reading them.", "documents:list"
            )
        )
    else:
        items.append(
            Capability("Shared documents", "Read what others have shared with you.", "documents:list", "Documents")
        )
    items.append(Capability("Chat", "Ask questions and get answers cited to page, entry and verse.", "chat:index"))
    items.append(
        Capability("Search", "Hybrid search across your library, the knowledge store and the Bible.", "search:index")
    )
    if user.role in ("admin", "power"):
        items.append(
            Capability("Knowledge", "Write and manage entries for the shared knowledge store.", "knowledge:index")
        )
    elif user.role == "user":
        items.append(Capability("Knowledge", "Read the curated knowledge store.", "knowledge:index"))
    items.append(Capability("Usage", "Your AI usage of the last 30 days and this month's budget.", "usage"))
    items.append(Capability("API", "Script Theo through its REST API (JWT); browse the reference.", "api-docs", "API"))
    if user.is_staff:
        items.append(
            Capability(
                "Admin console",
                "Approve sign-ups, set roles and budgets, read the audit trail.",
                "admin:index",
                "Admin",
            )
        )
    return [item for item in items if item.url]
