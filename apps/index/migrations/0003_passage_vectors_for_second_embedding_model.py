"""A side table for the vectors of a second embedding model (THEO_EMBEDDING_ENSEMBLE, apps/index/ensemble.py),
with its own HNSW index; empty while the ensemble is off."""


import django.db.models.deletion
import pgvector.django.indexes
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('index', '0002_passage_page_label_section'),
    ]

    operations = [
        migrations.CreateModel(
            name='PassageVector',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('model', models.CharField(help_text='The embedding model that made this vector', max_length=200)),
                ('embedding', pgvector.django.vector.VectorField(dimensions=384)),
                ('passage', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='vectors', to='index.passage')),
            ],
            options={
                'db_table': 'index_passage_vector',
                'indexes': [pgvector.django.indexes.HnswIndex(ef_construction=64, fields=['embedding'], m=16, name='passage_vector_embedding_hnsw', opclasses=['vector_cosine_ops'])],
                'constraints': [models.UniqueConstraint(fields=('passage', 'model'), name='passage_vector_one_per_model')],
            },
        ),
    ]
