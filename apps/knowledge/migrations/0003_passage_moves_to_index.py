"""Passage now belongs to the index app (apps/index/migrations/0001_initial.py adopts the
table): the knowledge app forgets it without dropping anything."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("knowledge", "0002_knowledge_entry"),
        ("index", "0001_initial"),
        ("documents", "0003_note_passage_in_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Passage")],
            database_operations=[],
        ),
    ]
