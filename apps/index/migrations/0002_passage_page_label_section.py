"""A passage's printed page and section heading. Document passages stored before them get
their page number as their label (what the label is when a file has no page labels) until
the document is reprocessed; the section stays empty until then."""

from django.db import migrations, models

BACKFILL_LABELS = """
UPDATE knowledge_passage SET page_label = page_start::text
WHERE source_kind = 'document' AND page_start IS NOT NULL AND page_label = ''
"""


class Migration(migrations.Migration):
    dependencies = [
        ("index", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="passage",
            name="page_label",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="passage",
            name="section",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
        migrations.RunSQL(BACKFILL_LABELS, reverse_sql=migrations.RunSQL.noop),
    ]
