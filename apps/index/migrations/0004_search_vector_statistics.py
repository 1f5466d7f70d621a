"""Ten times PostgreSQL's default statistics on search_vector: the text ranking reads each
word's frequency from them (apps/index/text_ranking.py). With the default, ANALYZE sampled
30,000 of 62,000 verses and kept about 1,000 words, so a word's weight moved between runs
and every rarer word weighed the same; at 1000 it samples 300,000 rows and keeps 10,000."""

from django.db import migrations

TABLE = "knowledge_passage"


class Migration(migrations.Migration):

    dependencies = [
        ("index", "0003_passage_vectors_for_second_embedding_model"),
    ]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STATISTICS 1000",
            f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STATISTICS -1",
        ),
    ]
