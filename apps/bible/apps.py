from django.apps import AppConfig


class BibleConfig(AppConfig):
    name = "apps.bible"
    label = "bible"
    verbose_name = "Bible"

    def ready(self) -> None:
        from apps.bible.scripture import find_references
        from apps.core.startup import register_startup_hook
        from apps.index.references import reference_finder_register

        reference_finder_register(find_references)  # the index sits below the Bible app
        register_startup_hook(schedule_bible_load)


def schedule_bible_load() -> str:
    """On `manage.py run`: load and embed the Bibles in the background unless they are done."""
    from django.conf import settings

    from apps.bible.tasks import load_bibles_task
    from apps.bible.translations import bible_status

    if not settings.BIBLE_AUTOLOAD or all(status.complete for status in bible_status(cached=False)):
        return ""
    load_bibles_task.delay()
    return "Loading the KJV and WEB in the background; /search/ shows how far it has come."
