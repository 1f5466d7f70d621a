"""`manage.py reembed`: vectors made by another model are replaced, in batches, with progress."""

from __future__ import annotations

from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from apps.index.embeddings import embed_texts, model_name
from apps.index.models import Passage
from tests.index.corpus import add_passages

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_passages(user: Any) -> list[Passage]:
    passages = add_passages(
        ["Grace precedes faith.", "The council met at Nicaea.", "Patience under suffering.", "Tithes."],
        owner=user,
        embed=False,
    )
    rng = np.random.default_rng(1)
    for passage in passages:
        passage.embedding = rng.normal(size=384).astype(np.float32)
        passage.embedding_model = "old/model-v1"
    Passage.objects.bulk_update(passages, ["embedding", "embedding_model"])
    return passages


def test_reembeds_passages_of_another_model(old_passages: list[Passage]) -> None:
    out = StringIO()
    call_command("reembed", "--batch-size", "3", stdout=out)
    output = out.getvalue()
    assert "to embed with" in output and "Done:" in output
    assert "%" in output  # progress per batch
    for passage in Passage.objects.filter(pk__in=[p.pk for p in old_passages]):
        assert passage.embedding_model == model_name()
        assert np.allclose(passage.embedding, embed_texts([passage.text])[0], atol=1e-4)


def test_dry_run_changes_nothing(old_passages: list[Passage]) -> None:
    out = StringIO()
    call_command("reembed", "--dry-run", stdout=out)
    assert "passage(s) to embed" in out.getvalue()
    assert Passage.objects.get(pk=old_passages[0].pk).embedding_model == "old/model-v1"


def test_a_second_run_has_nothing_to_do(old_passages: list[Passage]) -> None:
    call_command("reembed", "--source-kind", "document", stdout=StringIO())
    out = StringIO()
    call_command("reembed", "--source-kind", "document", stdout=out)
    assert out.getvalue().startswith("0 passage(s)")


def test_bad_batch_size_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("reembed", "--batch-size", "0")
