"""Send a test message on every enabled channel, right now, and say what happened on each."""

import socket
import uuid

from django.core.management import BaseCommand, CommandError
from django.utils import timezone

from core.notifications import messages, transports
from core.notifications.models import Delivery, Event
from core.notifications.transports import DeliveryError


class Command(BaseCommand):
    help = "Send a test notification on every enabled channel (Telegram, email) and print the outcome."

    def handle(self, *args, **options):
        channels = transports.enabled_channels()
        if not channels:
            raise CommandError("No notification channel is enabled: set TELEGRAM_ENABLED=true (with "
                               "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID) or EMAIL_NOTIFICATIONS_ENABLED=true (with "
                               "EMAIL_URL and NOTIFY_EMAIL_TO).")
        message = messages.check_message(socket.gethostname())
        failed = 0
        for channel in channels:
            try:
                transports.send(channel, message.title, message.body)
            except DeliveryError as error:
                failed += 1
                self._record(channel, message, Delivery.Status.FAILED, error.reason)
                self.stdout.write(f"{channel}: failed: {error.reason}")
            else:
                self._record(channel, message, Delivery.Status.SENT, "")
                self.stdout.write(f"{channel}: sent")
        if failed:
            raise CommandError(f"{failed} of {len(channels)} channel(s) failed")

    def _record(self, channel, message, status, last_error):
        Delivery.objects.create(key=uuid.uuid4(), channel=channel, event=Event.TEST, title=message.title,
                                text=message.body, status=status, attempts=1, last_error=last_error,
                                created_at=timezone.now())
