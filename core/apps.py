from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared platform every app stands on: events, logs, security, the API's errors, operator settings.

    Its label stays ``tradebot`` (the app it was split from), so its tables, migrations and permissions
    (``tradebot.trade_orders`` ...) keep their names in existing databases."""

    name = "core"
    label = "tradebot"
    verbose_name = "Bot"

    def ready(self):
        # Imported here, not at the top: models and the modules that use them load only once the registry is ready.
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from core.events import end_session_sockets
        from core.logs import redact
        from core.security import forget_cached_tokens
        from market.errors import scrub_messages_with

        scrub_messages_with(redact)

        user_logged_out.connect(end_session_sockets, dispatch_uid="tradebot-end-session-sockets")

        # A revoked token or a deactivated user stops working at once in this process (others: the cache's TTL).
        post_delete.connect(forget_cached_tokens, sender=Token, dispatch_uid="tradebot-forget-tokens-token")
        post_save.connect(forget_cached_tokens, sender=get_user_model(), dispatch_uid="tradebot-forget-tokens-user")
        post_delete.connect(forget_cached_tokens, sender=get_user_model(), dispatch_uid="tradebot-forget-tokens-del")
