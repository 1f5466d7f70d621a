from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"

    def ready(self) -> None:
        from apps.core.health import register_check
        from apps.core.startup import register_startup_hook
        from apps.knowledge.embeddings import check_model_files

        register_check("embedding_model", check_model_files, ready=True)
        register_startup_hook(schedule_bible_load)


def schedule_bible_load() -> str:
    """On `manage.py run`: load and embed the Bibles in the background unless they are done."""
    from django.conf import settings

    from apps.knowledge.bible import bible_status
    from apps.knowledge.tasks import load_bibles_task

    if not settings.BIBLE_AUTOLOAD or all(status.complete for status in bible_status(cached=False)):
        return ""
    load_bibles_task.delay()
    return "Loading the KJV and WEB in the background; /search/ shows how far it has come."
