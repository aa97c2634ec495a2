"""``manage.py telegram_link_code --user NAME``: a one-time code that links the chat it is sent from to NAME."""

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError

from chat.models import LINK_CODE_MINUTES, LinkCode


class Command(BaseCommand):
    help = ("Print a one-time code; sent to the Telegram bot as /link CODE, it links that chat to the user, whose "
            f"permissions its commands then have. Valid {LINK_CODE_MINUTES} minutes, once.")

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The username the chat will act as.")

    def handle(self, *args, user, **options):
        person = get_user_model().objects.filter(username=user).first()
        if person is None:
            raise CommandError(f"There is no user {user!r}.")
        if not person.is_active:
            raise CommandError(f"{user} is deactivated: a chat linked to them could do nothing.")
        code = LinkCode.issue(person)
        self.stdout.write(f"Send this to the bot from the chat to link it to {user} (valid {LINK_CODE_MINUTES} "
                          f"minutes, once):\n/link {code}")
