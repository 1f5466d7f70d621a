"""The index generation (apps/index/generation.py): a sequence that moves with every
statement that writes the passage table (a trigger, so no write path can forget it) and
once more after each committed write through the index services. Cached search results
are keyed by its value."""

from django.db import migrations

TABLE = "knowledge_passage"
SEQUENCE = "index_passage_generation"

FORWARD = f"""
CREATE SEQUENCE IF NOT EXISTS {SEQUENCE};
CREATE OR REPLACE FUNCTION {SEQUENCE}_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('{SEQUENCE}');
    RETURN NULL;
END $$;
CREATE TRIGGER passage_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {SEQUENCE}_bump();
"""

BACKWARD = f"""
DROP TRIGGER IF EXISTS passage_generation ON {TABLE};
DROP FUNCTION IF EXISTS {SEQUENCE}_bump();
DROP SEQUENCE IF EXISTS {SEQUENCE};
"""


class Migration(migrations.Migration):

    dependencies = [
        ("index", "0003_passage_vectors_for_second_embedding_model"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
