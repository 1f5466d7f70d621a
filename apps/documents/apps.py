from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "apps.documents"
    label = "documents"

    def ready(self) -> None:
        from apps.documents import metrics, signals  # noqa: F401 - signals: passages and files follow deleted documents

        metrics.register()
