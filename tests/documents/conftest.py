from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile


@pytest.fixture(autouse=True)
def documents_dir(settings: Any, tmp_path: Path) -> Path:
    """Each test stores uploads in a directory of its own."""
    settings.DOCUMENTS_DIR = tmp_path / "documents"
    return settings.DOCUMENTS_DIR


@pytest.fixture
def upload(client_for, user, django_capture_on_commit_callbacks):
    """Upload through the API as `user` (the enqueue on commit is captured, not run)."""

    def do(name: str, data: bytes, *, title: str = "", client: Any = None) -> str:
        client = client or client_for(user)
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(
                "/api/v1/documents/",
                {"file": SimpleUploadedFile(name, data), "title": title or name, "document_type": "biblical"},
                format="multipart",
            )
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "queued"
        return response.json()["id"]

    return do
