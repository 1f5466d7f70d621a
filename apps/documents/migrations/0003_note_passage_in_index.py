"""Notes point at passages, which now belong to the index app (same table, same
constraint): a change of Django's records only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("documents", "0002_note_reference_length"),
        ("index", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="documentnote",
                    name="passage",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="index.passage",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
