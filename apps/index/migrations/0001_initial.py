"""Passage moves from the knowledge app to the index app with its table: only Django's
record of which app owns it changes (SeparateDatabaseAndState); no row is touched. The
content type follows, so admin history and permissions of passages stay attached."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.contrib.postgres.search
import pgvector.django.indexes
import pgvector.django.vector
import uuid
from django.db import migrations, models


def _move_content_type(apps, schema_editor, *, source, destination):
    """The passage content type changes app (same id: admin history and permissions follow),
    in the database being migrated, unless the destination already has one."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_types = ContentType.objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label=destination, model="passage").exists():
        content_types.filter(app_label=source, model="passage").update(app_label=destination)


def content_type_to_index(apps, schema_editor):
    _move_content_type(apps, schema_editor, source="knowledge", destination="index")


def content_type_to_knowledge(apps, schema_editor):
    _move_content_type(apps, schema_editor, source="index", destination="knowledge")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("knowledge", "0002_knowledge_entry"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Passage',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('source_kind', models.CharField(choices=[('document', 'Document chunk'), ('knowledge', 'Knowledge entry'), ('bible', 'Bible verse')], max_length=16)),
                        ('source_id', models.UUIDField(help_text='Document, knowledge entry, or Bible translation id')),
                        ('chunk_index', models.PositiveIntegerField()),
                        ('title', models.CharField(blank=True, max_length=300)),
                        ('text', models.TextField()),
                        ('embedding', pgvector.django.vector.VectorField(blank=True, dimensions=384, null=True)),
                        ('embedding_model', models.CharField(blank=True, max_length=200)),
                        ('search_vector', models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector('text', config='english'), output_field=django.contrib.postgres.search.SearchVectorField())),
                        ('page_start', models.PositiveIntegerField(blank=True, null=True)),
                        ('page_end', models.PositiveIntegerField(blank=True, null=True)),
                        ('reference', models.CharField(blank=True, max_length=100)),
                        ('translation', models.CharField(blank=True, max_length=8)),
                        ('scripture_references', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=100), blank=True, default=list, size=None)),
                        ('verse_ids', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), blank=True, default=list, size=None)),
                        ('visibility', models.CharField(choices=[('public', 'Everyone (Bible text)'), ('members', 'Every non-guest (approved knowledge)'), ('private', 'Owner, sharees and staff')], default='private', max_length=16)),
                        ('owner_id', models.UUIDField(blank=True, null=True)),
                        ('shared_with', django.contrib.postgres.fields.ArrayField(base_field=models.UUIDField(), blank=True, default=list, size=None)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'knowledge_passage',
                        'ordering': ['source_kind', 'source_id', 'chunk_index'],
                        'indexes': [pgvector.django.indexes.HnswIndex(ef_construction=64, fields=['embedding'], m=16, name='passage_embedding_hnsw', opclasses=['vector_cosine_ops']), django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='passage_search_vector_gin'), django.contrib.postgres.indexes.GinIndex(fields=['verse_ids'], name='passage_verse_ids_gin'), django.contrib.postgres.indexes.GinIndex(fields=['shared_with'], name='passage_shared_with_gin'), models.Index(fields=['owner_id'], name='passage_owner_idx'), models.Index(fields=['source_kind', 'visibility'], name='passage_kind_visibility_idx')],
                        'constraints': [models.UniqueConstraint(fields=('source_kind', 'source_id', 'chunk_index'), name='passage_unique_chunk'), models.CheckConstraint(condition=models.Q(('page_start__isnull', True), ('page_end__gte', models.F('page_start')), _connector='OR'), name='passage_page_span_ordered')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_index, content_type_to_knowledge),
    ]
