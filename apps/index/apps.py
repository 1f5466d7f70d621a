from django.apps import AppConfig


class IndexConfig(AppConfig):
    name = "apps.index"
    label = "index"
    verbose_name = "Passage index"

    def ready(self) -> None:
        from django.conf import settings

        from apps.core.health import register_check
        from apps.index.embeddings import check_model_files, check_second_model

        register_check("embedding_model", check_model_files, ready=True)
        if settings.EMBEDDING_ENSEMBLE:
            register_check("second_embedding_model", check_second_model, ready=True)
