"""Send a test message on every enabled channel and to every enabled webhook, right now, and say what happened."""

import socket
import uuid

from django.core.management import BaseCommand, CommandError
from django.utils import timezone

from core.notifications import messages, transports, webhooks
from core.notifications.models import Channel, Delivery, Event, Webhook
from core.notifications.transports import DeliveryError


class Command(BaseCommand):
    help = ("Send a test notification on every enabled channel (Telegram, email) and to every enabled webhook, and "
            "print the outcome.")

    def handle(self, *args, **options):
        channels = transports.enabled_channels()
        hooks = list(Webhook.objects.filter(enabled=True))
        if not channels and not hooks:
            raise CommandError("No notification channel is enabled: set TELEGRAM_ENABLED=true (with "
                               "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID) or EMAIL_NOTIFICATIONS_ENABLED=true (with "
                               "EMAIL_URL and NOTIFY_EMAIL_TO), or add a webhook in the admin.")
        message = messages.check_message(socket.gethostname())
        outcomes = [self._try(channel, None, message, lambda channel=channel: transports.send(
            channel, message.title, message.body)) for channel in channels]
        outcomes += [self._try(Channel.WEBHOOK, hook, message, lambda hook=hook: webhooks.send_webhook(
            hook, key=str(uuid.uuid4()), event=Event.TEST.value, title=message.title, text=message.body,
            created_at=timezone.now().isoformat(), context={})) for hook in hooks]
        failed = outcomes.count(False)
        if failed:
            raise CommandError(f"{failed} of {len(outcomes)} channel(s) failed")

    def _try(self, channel, hook, message, send) -> bool:
        name = f"webhook {hook.name}" if hook else channel
        try:
            send()
        except DeliveryError as error:
            self._record(channel, hook, message, Delivery.Status.FAILED, error.reason)
            self.stdout.write(f"{name}: failed: {error.reason}")
            return False
        self._record(channel, hook, message, Delivery.Status.SENT, "")
        self.stdout.write(f"{name}: sent")
        return True

    def _record(self, channel, hook, message, status, last_error):
        Delivery.objects.create(key=uuid.uuid4(), channel=channel, webhook=hook, event=Event.TEST,
                                title=message.title, text=message.body, status=status, attempts=1,
                                last_error=last_error, created_at=timezone.now())
