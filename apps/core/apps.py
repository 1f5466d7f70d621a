from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Theo core"

    def ready(self) -> None:
        from apps.core import checks, metrics, middleware  # noqa: F401 - registers checks, collectors, log signal
