"""Vectors of a second embedding model beside the passage's own (the search ensemble,
apps/index/ensemble.py). A side table, so that the ensemble can be switched on or off
without touching the passage table and a model change only rewrites its own rows."""

from __future__ import annotations

from django.db import models
from pgvector.django import HnswIndex, VectorField

ENSEMBLE_DIMENSIONS = 384


class PassageVector(models.Model):
    id = models.BigAutoField(primary_key=True)  # never leaves the server
    passage = models.ForeignKey("index.Passage", on_delete=models.CASCADE, related_name="vectors")
    model = models.CharField(max_length=200, help_text="The embedding model that made this vector")
    embedding = VectorField(dimensions=ENSEMBLE_DIMENSIONS)

    class Meta:
        db_table = "index_passage_vector"
        constraints = [models.UniqueConstraint(fields=["passage", "model"], name="passage_vector_one_per_model")]
        indexes = [
            HnswIndex(
                name="passage_vector_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} vector of {self.passage_id}"
