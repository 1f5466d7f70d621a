from django.apps import AppConfig


class IndexConfig(AppConfig):
    name = "apps.index"
    label = "index"
    verbose_name = "Passage index"

    def ready(self) -> None:
        from apps.core.health import register_check
        from apps.index.embeddings import check_model_files

        register_check("embedding_model", check_model_files, ready=True)
