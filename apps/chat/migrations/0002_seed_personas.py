"""A few personas to start with; staff edit or add more in the admin."""

from django.db import migrations

from apps.chat.personas import DEFAULT_PERSONAS


def seed(apps, schema_editor):
    # In the database being migrated (`migrate --database`), not the default one; as
    # apps.chat.personas.seed_default_personas: create what is missing, overwrite nothing.
    personas = apps.get_model("chat", "Persona").objects.using(schema_editor.connection.alias)
    for persona in DEFAULT_PERSONAS:
        personas.get_or_create(name=persona["name"], defaults=persona)


def unseed(apps, schema_editor):
    names = [persona["name"] for persona in DEFAULT_PERSONAS]
    personas = apps.get_model("chat", "Persona").objects.using(schema_editor.connection.alias)
    personas.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_chat_models")]
    operations = [migrations.RunPython(seed, unseed)]
