"""Uploaded files, stored privately under THEO_DATA_DIR/documents by document id.

Never under the user's file name, never under a static or media URL: files reach users
only through the API's download view, after the access check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from apps.documents.models import Document


def path_for(document: Document) -> Path:
    key = str(document.pk)
    return settings.DOCUMENTS_DIR / key[:2] / key


def store(source: Path, document: Document) -> Path:
    """Move (or copy) the uploaded temporary file into place, readable by Theo only."""
    target = path_for(document)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_suffix(".partial")
    try:
        shutil.copyfile(source, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)  # atomic: a reader never sees half a file
    except BaseException:  # a full disk, say: no half-copied file stays behind
        partial.unlink(missing_ok=True)
        raise
    return target


def delete(document: Document) -> None:
    delete_path(path_for(document))


def delete_path(path: Path) -> None:
    path.unlink(missing_ok=True)
