"""Sharing a document by e-mail: who may be given access, changing and removing a share,
the list of shares, and the passage index following every change (the access rule for
search is a column on the passages, kept current in the same transaction)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.models import AuditEvent
from apps.documents import pipeline, storage
from apps.documents.models import Document, DocumentAccess, DocumentNote
from apps.index.models import Passage
from apps.users.models import User
from tests.documents.factories import (
    CompletedDocumentFactory,
    DocumentFactory,
    DocumentPassageFactory,
    ReaderFactory,
    ShareFactory,
    document_url,
    upload,
)
from tests.documents.test_api import ROLES, ROUTES, World, world  # noqa: F401 - world is a fixture
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def document() -> Document:
    return CompletedDocumentFactory(title="Lectures on Galatians")


def shares_url(document: Document) -> str:
    return document_url(document, "shares/")


def share(client: Any, document: Document, email: str, permission: str = "view") -> Any:
    return client.post(shares_url(document), {"email": email, "permission": permission}, format="json")


# --- giving access ------------------------------------------------------------------------


def test_sharing_for_viewing_lets_the_sharee_read_but_not_edit(client_for, document):
    sharee = ReaderFactory(display_name="Phoebe")
    assert_error(client_for(sharee).get(document_url(document)), 404, "not_found")

    response = share(client_for(document.owner), document, sharee.email, "view")

    assert response.status_code == 201, response.content
    assert response.json()["permission"] == "view"
    assert response.json()["user"] == {"id": str(sharee.pk), "email": sharee.email, "display_name": "Phoebe"}
    sharee_client = client_for(sharee)
    detail = sharee_client.get(document_url(document))
    assert detail.status_code == 200
    assert detail.json()["access"] == "view"
    assert str(document.pk) in [row["id"] for row in sharee_client.get("/api/v1/documents/").json()["results"]]
    assert sharee_client.get(document_url(document, "file/")).status_code == 200
    assert_error(
        sharee_client.patch(document_url(document), {"title": "Mine now"}, format="json"), 403, "permission_denied"
    )
    document.refresh_from_db()
    assert document.title == "Lectures on Galatians"
    event = AuditEvent.objects.get(action="document.share", target_id=str(document.pk))
    assert event.data == {"user": sharee.email, "permission": "view"}


def test_sharing_again_changes_the_permission(client_for, document):
    sharee = ReaderFactory()
    owner_client = client_for(document.owner)
    assert share(owner_client, document, sharee.email, "view").status_code == 201

    response = share(owner_client, document, sharee.email, "edit")

    assert response.status_code in (200, 201)
    assert response.json()["permission"] == "edit"
    assert list(DocumentAccess.objects.filter(document=document).values_list("user_id", "permission")) == [
        (sharee.pk, "edit")
    ]
    assert client_for(sharee).get(document_url(document)).json()["access"] == "edit"
    assert AuditEvent.objects.filter(action="document.share_update", target_id=str(document.pk)).exists()


def test_the_email_is_matched_whatever_its_case(client_for, document):
    sharee = ReaderFactory()
    response = share(client_for(document.owner), document, f"  {sharee.email.upper()} ")
    assert response.status_code == 201, response.content
    assert DocumentAccess.objects.filter(document=document, user=sharee).exists()


def test_a_guest_may_be_given_a_share_but_never_more_than_view(client_for, document):
    guest = ReaderFactory(role=User.Role.GUEST)
    assert share(client_for(document.owner), document, guest.email, "edit").status_code == 201
    assert client_for(guest).get(document_url(document)).json()["access"] == "view"


@pytest.mark.parametrize(
    "make_email",
    [
        lambda document: "nobody-here@example.org",
        lambda document: ReaderFactory(status=User.Status.PENDING).email,
        lambda document: ReaderFactory(status=User.Status.DENIED).email,
    ],
    ids=["unknown", "pending", "denied"],
)
def test_only_approved_accounts_can_be_given_a_share(client_for, document, make_email):
    email = make_email(document)
    response = share(client_for(document.owner), document, email)
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]
    assert not DocumentAccess.objects.filter(document=document).exists()


def test_a_pending_account_does_not_learn_of_the_share_later(client_for, document):
    pending = ReaderFactory(status=User.Status.PENDING)
    share(client_for(document.owner), document, pending.email)
    pending.status = User.Status.APPROVED
    pending.save(update_fields=["status"])
    assert_error(client_for(pending).get(document_url(document)), 404, "not_found")


def test_the_owner_cannot_share_with_themselves(client_for, document):
    response = share(client_for(document.owner), document, document.owner.email, "edit")
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]
    assert not DocumentAccess.objects.filter(document=document).exists()
    assert not AuditEvent.objects.filter(action__startswith="document.share", target_id=str(document.pk)).exists()


def test_staff_cannot_share_someone_elses_document(client_for, document):
    staff = ReaderFactory(role=User.Role.ADMIN)
    assert_error(share(client_for(staff), document, staff.email), 404, "not_found")
    assert not DocumentAccess.objects.filter(document=document).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not an address", "permission": "view"},
        {"permission": "view"},
        {"email": "APPROVED", "permission": "admin"},
    ],
    ids=["bad-email", "no-email", "bad-permission"],
)
def test_malformed_share_requests_are_400(client_for, document, payload):
    if payload.get("email") == "APPROVED":
        payload = {**payload, "email": ReaderFactory().email}
    response = client_for(document.owner).post(shares_url(document), payload, format="json")
    assert_error(response, 400, "validation_error")
    assert not DocumentAccess.objects.filter(document=document).exists()


# --- listing and removing -----------------------------------------------------------------


def test_the_owner_lists_shares_oldest_first(client_for, document):
    first = ShareFactory(document=document, permission="edit")
    second = ShareFactory(document=document, permission="view")
    ShareFactory(permission="view")  # another document's share

    response = client_for(document.owner).get(shares_url(document))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(row["user"]["email"], row["permission"]) for row in body["results"]] == [
        (first.user.email, "edit"),
        (second.user.email, "view"),
    ]


def test_unsharing_with_a_json_body_removes_access(client_for, document, django_capture_on_commit_callbacks):
    existing = ShareFactory(document=document, permission="edit")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(document.owner).delete(
            shares_url(document), {"email": existing.user.email}, format="json"
        )
    assert response.status_code == 204
    assert not DocumentAccess.objects.filter(pk=existing.pk).exists()
    assert_error(client_for(existing.user).get(document_url(document)), 404, "not_found")
    assert AuditEvent.objects.get(action="document.unshare", target_id=str(document.pk)).data == {
        "user": existing.user.email
    }


def test_unsharing_with_a_query_parameter(client_for, document):
    existing = ShareFactory(document=document)
    kept = ShareFactory(document=document)
    response = client_for(document.owner).delete(f"{shares_url(document)}?email={existing.user.email}")
    assert response.status_code == 204
    assert list(DocumentAccess.objects.filter(document=document)) == [kept]


def test_unsharing_someone_it_is_not_shared_with_is_400(client_for, document):
    stranger = ReaderFactory()
    kept = ShareFactory(document=document, permission="edit")
    response = client_for(document.owner).delete(shares_url(document), {"email": stranger.email}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]
    assert list(DocumentAccess.objects.filter(document=document).values_list("pk", "permission")) == [(kept.pk, "edit")]
    assert not AuditEvent.objects.filter(action="document.unshare").exists()


def test_unsharing_without_an_email_is_400(client_for, document):
    kept = ShareFactory(document=document)
    assert_error(client_for(document.owner).delete(shares_url(document)), 400, "validation_error")
    assert list(DocumentAccess.objects.filter(document=document)) == [kept]


# --- the passage index follows ------------------------------------------------------------


def test_passages_carry_the_shares_of_their_document(client_for, django_capture_on_commit_callbacks):
    """Real passages (the pipeline on a small upload): sharing adds the sharee's id to every
    passage's shared_with, unsharing removes it, and the owner stays the owner."""
    owner = ReaderFactory()
    owner_client = client_for(owner)
    text = "\f".join(
        f"Page {n}. Paul writes in Rom 8:28-30 that all things work together for good. " * 30 for n in (1, 2)
    )
    with django_capture_on_commit_callbacks(execute=False):
        uploaded = upload(owner_client, text.encode(), "romans.txt", title="Romans notes")
    assert uploaded.status_code == 202, uploaded.content
    document_id = uploaded.json()["id"]
    pipeline.run(document_id=document_id)
    passages = Passage.objects.filter(source_kind="document", source_id=document_id)
    assert passages.count() >= 2
    assert all(p.owner_id == owner.pk and p.shared_with == [] for p in passages)
    document = Document.objects.get(pk=document_id)
    viewer, editor = ReaderFactory(), ReaderFactory()

    assert share(owner_client, document, viewer.email, "view").status_code == 201
    assert share(owner_client, document, editor.email, "edit").status_code == 201

    assert all(set(p.shared_with) == {viewer.pk, editor.pk} for p in passages.all())
    sharee_passages = client_for(viewer).get(document_url(document, "passages/"))
    assert sharee_passages.status_code == 200
    assert sharee_passages.json()["count"] == passages.count()

    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(shares_url(document), {"email": viewer.email}, format="json").status_code == 204

    assert all(p.shared_with == [editor.pk] for p in passages.all())
    assert all(p.owner_id == owner.pk for p in passages.all())


def test_changing_a_permission_keeps_the_sharee_on_the_passages(client_for, document):
    passage = DocumentPassageFactory(document=document)
    sharee = ReaderFactory()
    owner_client = client_for(document.owner)
    share(owner_client, document, sharee.email, "view")
    share(owner_client, document, sharee.email, "edit")
    passage.refresh_from_db()
    assert passage.shared_with == [sharee.pk]


def test_sharing_one_document_leaves_other_documents_passages_alone(client_for, document):
    other = DocumentFactory(owner=document.owner)
    other_passage = DocumentPassageFactory(document=other)
    DocumentPassageFactory(document=document)
    sharee = ReaderFactory()
    share(client_for(document.owner), document, sharee.email)
    other_passage.refresh_from_db()
    assert other_passage.shared_with == []


# --- refused writes leave nothing changed (every write route of the share matrix) ---------

WRITE_ROUTES = {name: route for name, route in ROUTES.items() if route.method != "get"}
REFUSED_WRITES = [
    (role, name)
    for role, (_, level) in ROLES.items()
    for name, route in WRITE_ROUTES.items()
    if level is None or level < route.need
]


def stored_state(state_of: World) -> dict[str, Any]:
    """Everything a write route could change: the document row, its shares, notes,
    passages (and their access columns), its file and its audit trail."""
    document = state_of.document
    return {
        "document": Document.objects.filter(pk=document.pk).values().first(),
        "shares": sorted(DocumentAccess.objects.filter(document=document).values_list("user_id", "permission")),
        "notes": sorted(map(str, DocumentNote.objects.filter(document=document).values())),
        "passages": sorted(map(str, Passage.objects.filter(source_kind="document", source_id=document.pk).values())),
        "file": storage.path_for(document).read_bytes() if storage.path_for(document).exists() else None,
        "audit": AuditEvent.objects.filter(target_id=str(document.pk)).count(),
    }


@pytest.mark.parametrize(("role", "route_name"), REFUSED_WRITES)
def test_a_refused_write_leaves_every_row_unchanged(client_for, world, role, route_name):  # noqa: F811
    """Every write the share matrix refuses (401, 403, 404): the document, its shares,
    notes, passages, file and audit trail are exactly as before."""
    who, _ = ROLES[role]
    route = WRITE_ROUTES[route_name]
    client = client_for(getattr(world, who) if who else None)
    url = document_url(world.document, route.suffix)
    if route.params:
        url += f"?email={getattr(world, route.params).email}"
    kwargs: dict[str, Any] = {"data": route.data(world), "format": "json"} if route.data is not None else {}
    before = stored_state(world)

    response = getattr(client, route.method)(url, **kwargs)

    assert response.status_code in (401, 403, 404), response.content
    assert stored_state(world) == before
