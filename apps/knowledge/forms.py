from __future__ import annotations

from typing import Any, cast

from django import forms

from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.services import BODY_MAX_CHARS, MAX_TAGS, SOURCE_MAX_CHARS, TITLE_MAX_CHARS

Status = KnowledgeEntry.Status

AUTHOR_CHOICES: list[tuple[str, str]] = [
    (Status.DRAFT, "Draft: only you (and staff) can read it"),
    (Status.SUBMITTED, "Submit for review: staff approve it for everyone"),
]
STAFF_CHOICES: list[tuple[str, str]] = [
    (Status.DRAFT, "Draft"),
    (Status.SUBMITTED, "Submitted for review"),
    (Status.APPROVED, "Approved: every member can read and search it"),
]
KEEP_CHOICES: dict[str, str] = {
    Status.APPROVED: "Keep approved (a changed title, text or source goes back for review)",
    Status.REJECTED: "Keep as rejected",
}


class EntryForm(forms.Form):
    """Create or edit an entry. The choices of status depend on who edits: authors choose
    draft or submitted; staff may publish at once."""

    title = forms.CharField(max_length=TITLE_MAX_CHARS, widget=forms.TextInput(attrs={"autofocus": True}))
    body = forms.CharField(
        max_length=BODY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Plain text; blank lines separate paragraphs. References such as Rom 8:28 become links.",
    )
    tags = forms.CharField(
        required=False,
        max_length=MAX_TAGS * 52,
        help_text=f"Separated by commas, e.g. grace, soteriology (up to {MAX_TAGS}).",
    )
    source = forms.CharField(
        required=False,
        max_length=SOURCE_MAX_CHARS,
        help_text=KnowledgeEntry._meta.get_field("source").help_text,
    )
    status = forms.ChoiceField(widget=forms.RadioSelect)

    def __init__(self, *args: Any, user: Any, entry: KnowledgeEntry | None = None, **kwargs: Any) -> None:
        if entry is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": entry.title,
                    "body": entry.body,
                    "tags": ", ".join(entry.tags),
                    "source": entry.source,
                    "status": entry.status,
                },
            )
        else:
            kwargs.setdefault("initial", {"status": Status.APPROVED if user.is_staff else Status.DRAFT})
        super().__init__(*args, **kwargs)
        choices = list(STAFF_CHOICES if user.is_staff else AUTHOR_CHOICES)
        current = entry.status if entry is not None else None
        if current in KEEP_CHOICES and current not in dict(choices):
            choices.insert(0, (current, KEEP_CHOICES[current]))
        cast(forms.ChoiceField, self.fields["status"]).choices = choices
