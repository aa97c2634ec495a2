"""``manage.py telegram_bot``: the Telegram control bot, in the foreground (a part of ``runbot`` and a compose
service when TELEGRAM_COMMANDS_ENABLED is on)."""

from django.conf import settings
from django.core.management import BaseCommand

from chat import bot


class Command(BaseCommand):
    help = ("Run the Telegram control bot: long-polls the Bot API and answers /status, /forceexit ... from chats "
            "linked to a user (docs/telegram.md). Stops on Ctrl-C or SIGTERM.")

    def handle(self, *args, **options):
        if not settings.TELEGRAM_COMMANDS_ENABLED:
            # Exits 0: compose's restart policy (on-failure) leaves it stopped, as meant.
            self.stdout.write("Telegram commands are off (TELEGRAM_COMMANDS_ENABLED, which follows TELEGRAM_ENABLED); "
                              "nothing to run.")
            return
        bot.run_until_signalled()
