"""A few personas to start with; staff edit or add more in the admin."""

from django.db import migrations

from apps.chat.personas import DEFAULT_PERSONAS, seed_default_personas


def seed(apps, schema_editor):
    seed_default_personas(apps.get_model("chat", "Persona"))


def unseed(apps, schema_editor):
    names = [persona["name"] for persona in DEFAULT_PERSONAS]
    apps.get_model("chat", "Persona").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_chat_models")]
    operations = [migrations.RunPython(seed, unseed)]
