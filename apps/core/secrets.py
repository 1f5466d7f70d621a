"""Secrets generated once for the one-machine default and kept under THEO_DATA_DIR."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def load_or_create_secret(path: Path) -> str:
    """Return the secret stored at `path`, creating it (mode 0600) if it does not exist.

    O_EXCL makes creation race-safe: of two processes starting together, one writes the
    key and the other reads it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _read_when_written(path: Path) -> str:
    for _ in range(100):  # another process may be between create and write
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"Secret file {path} is empty; delete it to generate a new key.")
