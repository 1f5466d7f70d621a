from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "apps.chat"
    label = "chat"

    def ready(self) -> None:
        from apps.chat import checks  # noqa: F401 - registers the chat settings checks
        from apps.chat.models import AIUsage
        from apps.core.metrics import AI_TOKENS

        for kind in AIUsage.Kind.values:  # every kind's series exists from the start (zero)
            AI_TOKENS.labels(kind=kind)
