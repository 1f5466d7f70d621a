from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"

    def ready(self) -> None:
        from apps.core.health import register_check
        from apps.knowledge.embeddings import check_model_files

        register_check("embedding_model", check_model_files, ready=True)
