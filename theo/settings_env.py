"""What every part of Theo's settings reads first: the environment (with `.env`), where Theo
lives and keeps its data, and whether this is a test run. Nothing here touches the disk
beyond reading `.env`."""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Nothing may download models or data at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# pytest sets PYTEST_VERSION; tests then use their own Redis databases (settings_services),
# so a running `make run` and `make test` never share queues or caches.
TESTING = "PYTEST_VERSION" in os.environ

DEBUG = env.bool("DEBUG", default=False)
# Created by apps.core.embedded.ensure_services() at start-up, not here.
DATA_DIR = Path(env("THEO_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
